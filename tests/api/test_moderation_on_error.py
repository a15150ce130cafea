"""`/v1/moderations` fails closed: an `error` decision is never `flagged: false`.

Through the official `openai` SDK's `moderations.create`, with a judge that is overloaded
or answers garbage, under both values of SUPERVISOR_MODERATION_ON_ERROR.
"""

from __future__ import annotations

from typing import Any

import openai
import pytest

from supervisor.errors import ConfigError, ProviderUnavailable
from supervisor.providers import ChatRequest
from supervisor.providers.fake import FakeProvider, Reply
from supervisor.settings import current
from tests.api.conftest import APP_KEY, AUDITOR_KEY, Serve, Served

BENIGN = "Drinking water and sleeping well help most people feel better."


def overloaded(request: ChatRequest) -> Reply:
    return ProviderUnavailable("overloaded (529)", provider="fake", status=529)


def garbage(request: ChatRequest) -> Reply:
    return "Sure! Everything looks fine to me."


def _record(served: Served, record_id: str) -> dict[str, Any]:
    response = served.client(AUDITOR_KEY).get(f"/v1/audit/records/{record_id}")
    assert response.status_code == 200, response.text
    record: dict[str, Any] = response.json()["record"]
    return record


@pytest.mark.parametrize("script", [overloaded, garbage], ids=["overloaded", "garbage"])
def test_failed_judge_is_flagged_with_the_error_and_its_reason(serve: Serve, script: Any
                                                               ) -> None:
    """By default (closed) every result of an error decision is `flagged: true`."""
    with serve(judge=FakeProvider(script, name="fake:judge")) as served:
        client = openai.OpenAI(base_url=served.url + "/v1", api_key=APP_KEY, max_retries=0)
        results = client.moderations.create(model="base", input=[BENIGN, BENIGN]).results
        # model_extra is Optional in the SDK's type; the service always adds `supervisor`
        records = [_record(served, r.model_extra["supervisor"]["record_id"])  # type: ignore[index]
                   for r in results]
    for result, record in zip(results, records, strict=True):
        # model_extra is Optional in the SDK's type; the service always adds `supervisor`
        extension = result.model_extra["supervisor"]  # type: ignore[index]
        assert result.flagged is True
        assert extension["action"] == "error"
        assert extension["reason"]
        assert record["body"]["action"] == "error"


def test_unavailable_setting_answers_503_naming_the_error_records(serve: Serve) -> None:
    """SUPERVISOR_MODERATION_ON_ERROR=unavailable: a 503 the SDK raises, naming the records."""
    with serve(judge=FakeProvider(overloaded, name="fake:judge"),
               moderation_on_error="unavailable") as served:
        client = openai.OpenAI(base_url=served.url + "/v1", api_key=APP_KEY, max_retries=0)
        with pytest.raises(openai.InternalServerError) as raised:
            client.moderations.create(model="base", input=BENIGN)
        record_ids = raised.value.response.headers["x-supervisor-record-id"].split(",")
        records = [_record(served, r) for r in record_ids]
    assert raised.value.status_code == 503
    error = raised.value.body
    assert isinstance(error, dict) and error["code"] == "supervision_failed"
    assert all(r in error["message"] for r in record_ids)
    assert "overloaded" in error["message"]
    assert [r["body"]["action"] for r in records] == ["error"]


def test_unavailable_setting_still_answers_when_the_supervisor_decides(serve: Serve) -> None:
    """Only error decisions turn into a 503; a decided text is classified as usual."""
    with serve(moderation_on_error="unavailable") as served:
        client = openai.OpenAI(base_url=served.url + "/v1", api_key=APP_KEY, max_retries=0)
        result = client.moderations.create(model="base", input=BENIGN).results[0]
    assert result.flagged is False
    # model_extra is Optional in the SDK's type; the service always adds `supervisor`
    assert result.model_extra["supervisor"]["action"] == "allow"  # type: ignore[index]


def test_moderation_on_error_setting_is_read_and_checked() -> None:
    """Default `flag`; `unavailable` is read; anything else names the allowed values."""
    assert current({}).moderation_on_error == "flag"
    assert current({"SUPERVISOR_MODERATION_ON_ERROR": "unavailable"}
                   ).moderation_on_error == "unavailable"
    with pytest.raises(ConfigError, match="flag, unavailable"):
        current({"SUPERVISOR_MODERATION_ON_ERROR": "open"})
