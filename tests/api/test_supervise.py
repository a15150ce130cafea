"""`/v1/supervise`: check a given answer, or generate one with the primary and check it."""

from __future__ import annotations

from supervisor.providers.fake import FakeProvider
from tests.api.conftest import Serve


def test_given_output_is_checked_without_calling_a_model(serve: Serve) -> None:
    """With `output`, no primary is asked; the full decision comes back."""
    primary = FakeProvider([])
    with serve(primaries={"fake:primary": primary}) as served:
        response = served.client().post("/v1/supervise", json={
            "prompt": "What card is on file?", "constitution": "finance",
            "output": "The card on file is 4111 1111 1111 1111.",
            "context": {"app_id": "advisor", "user_ref": "u-9"}})
    decision = response.json()
    assert decision["action"] == "revise" and "4111 1111" not in decision["output"]
    assert decision["context"] == {"app_id": "advisor", "user_ref": "u-9",
                                   "key": "clinic-app"}
    assert decision["provenance"]["constitution"]["id"] == "finance"
    assert primary.calls == []


def test_without_output_the_primary_answers_first(serve: Serve) -> None:
    """Messages go to the primary model; its answer is supervised and recorded."""
    primary = FakeProvider(["Index funds spread risk across many companies."], name="fake:primary")
    with serve(primaries={"fake:primary": primary}) as served:
        response = served.client().post("/v1/supervise", json={
            "messages": [{"role": "system", "content": "You are a bank assistant."},
                         {"role": "user", "content": "What is an index fund?"}],
            "constitution": "finance"})
    decision = response.json()
    assert decision["action"] == "allow"
    assert decision["prompt"] == "What is an index fund?"
    assert decision["provenance"]["primary"] == "fake:primary"
    assert [m.role for m in primary.calls[0].messages] == ["system", "user"]
    assert response.headers["x-supervisor-record-id"] == decision["record_id"]
