"""A supervision that crashes is an `error` decision in the ledger, never a bare 500.

An exception escaping the supervision (here a judge adapter with a bug, raising what no
provider should; in the field, a text a model library will not take) used to answer 500
with no record and reset the connection. Now every route records it and answers it as
a failed supervision.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from supervisor.providers import ChatRequest
from supervisor.providers.fake import FakeProvider, Reply
from tests.api.conftest import AUDITOR_KEY, Serve, Served

NORMAL = ("For most adults a resting heart rate between 60 and 100 beats per minute is "
          "normal; ask your doctor if yours is often outside that range.")


def broken(request: ChatRequest) -> Reply:
    return RuntimeError("adapter bug: 'NoneType' object is not subscriptable")


def _record(served: Served, record_id: str) -> dict[str, Any]:
    response = served.client(AUDITOR_KEY).get(f"/v1/audit/records/{record_id}")
    assert response.status_code == 200, response.text
    record: dict[str, Any] = response.json()["record"]
    return record


ROUTES = [
    ("/v1/moderations", {"input": NORMAL}, 200),
    ("/v1/supervise", {"prompt": "Is my pulse normal?", "output": NORMAL}, 200),
    ("/v1/chat/completions", {"model": "fake:primary", "messages": [
        {"role": "user", "content": "Is my pulse normal?"}]}, 503),
    ("/v1/messages", {"model": "fake:primary", "max_tokens": 50, "messages": [
        {"role": "user", "content": "Is my pulse normal?"}]}, 503),
]


@pytest.mark.parametrize(("path", "body", "status"), ROUTES,
                         ids=[p.rsplit("/", 1)[1] for p, _, _ in ROUTES])
def test_crashing_supervision_is_a_recorded_error_not_a_500(
        serve: Serve, path: str, body: dict[str, Any], status: int) -> None:
    """Each route answers it as a failed supervision, and the ledger holds the decision."""
    with serve(primaries={"fake:primary": FakeProvider([NORMAL] * 3)},
               judge=FakeProvider(broken, name="fake:judge")) as served:
        response = served.client().post(path, json=body)
        record_id = response.headers["x-supervisor-record-id"]
        record = _record(served, record_id)
    assert response.status_code == status, response.text
    assert NORMAL not in response.text or path == "/v1/supervise"  # withheld by the proxies
    assert record["body"]["action"] == "error" and record["body"]["released"] is False
    assert "supervision failed: RuntimeError" in record["body"]["reason"]
    assert "adapter bug" not in str(record)  # the exception's text stays in the log
    assert record["body"]["texts"] is None
    if path == "/v1/moderations":
        result = response.json()["results"][0]
        assert result["flagged"] is True and result["supervisor"]["action"] == "error"


IDENTIFIERS_ONLY = """\
id: identifiers-only
version: 1.0.0
title: Identifiers only, nothing of the texts stored
defaults:
  store_text: none
principles:
  - id: no-ssn
    statement: The answer does not reveal a social security number.
    applies_to: output
    severity: high
    action: block
    citations: ["test"]
    checks:
      - pii: {entities: [US_SSN], min_score: 0.5}
"""


def test_text_beyond_spacys_limit_on_moderations_is_recorded_not_a_500(
        serve: Serve, tmp_path: Path) -> None:
    """1,000,001 characters (spaCy's max_length is 1,000,000), under the 1 MiB body limit.

    Checked by PII alone, with nothing of the text stored, so the test spends its time on
    the one detector with a length limit: the answer is a decision (PII analysed in
    chunks) or an error decision (the deadline passed, or spaCy refused), never a 500.
    """
    path = tmp_path / "identifiers.yaml"
    path.write_text(IDENTIFIERS_ONLY, encoding="utf-8")
    text = ("Rest and fluids help. " * 45_455)[:1_000_001]
    with serve(constitution=str(path)) as served:
        with served.client() as client:
            response = client.post("/v1/moderations", json={"input": text}, timeout=600)
        record_id = response.headers.get("x-supervisor-record-id", "")
        record = _record(served, record_id) if record_id else {}
    assert response.status_code == 200, response.text
    result = response.json()["results"][0]
    assert result["supervisor"]["record_id"] == record_id
    assert record.get("kind") == "decision"
    assert record["body"]["action"] == result["supervisor"]["action"]
    assert result["supervisor"]["action"] in ("allow", "error")
    assert result["flagged"] is (result["supervisor"]["action"] == "error")
