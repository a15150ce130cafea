"""Issue acceptance through the CLI: `check --supervisor anthropic:M|openai:M` against
local servers speaking each vendor's API, reached through the official SDKs."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from tests.cli.conftest import Run
from tests.fakes.anthropic_server import FakeAnthropic, error, tool_call
from tests.fakes.openai_server import FakeOpenAI, json_answer
from tests.fakes.scripted import Recorded, Reply

pytestmark = pytest.mark.slow
ANSWER = "Photosynthesis turns light, water and carbon dioxide into sugar and oxygen."


def asked(schema: dict[str, Any]) -> list[str]:
    return list(schema["properties"]["verdicts"]["items"]["properties"]["principle"]["enum"])


def compliant(ids: list[str]) -> dict[str, Any]:
    return {"verdicts": [{"principle": i, "violated": False, "confidence": 0.9,
                          "rationale": "fine", "evidence": []} for i in ids]}


@pytest.fixture
def vendor_keys(monkeypatch: pytest.MonkeyPatch) -> Iterator[pytest.MonkeyPatch]:
    monkeypatch.setenv("ANTHROPIC_API_KEY", "test-key")
    monkeypatch.setenv("OPENAI_API_KEY", "test-key")
    monkeypatch.setenv("SUPERVISOR_CALL_TIMEOUT", "5")
    yield monkeypatch


def test_anthropic_judge_costs_one_call_for_a_compliant_answer(
        run: Run, vendor_keys: pytest.MonkeyPatch) -> None:
    """One forced tool call judges every principle; the answer is not in the system prompt."""
    def judge(request: Recorded) -> Reply:
        return tool_call("record_verdicts", compliant(asked(
            request.json["tools"][0]["input_schema"])))

    fake = FakeAnthropic(judge)
    with fake.serve() as url:
        vendor_keys.setenv("ANTHROPIC_BASE_URL", url)
        result = run("check", "--json", "-c", "base", "--supervisor",
                     "anthropic:claude-haiku-4-5", ANSWER)
    decision = json.loads(result.out)
    assert result.code == 0 and decision["action"] == "allow"
    assert len(fake.requests) == 1 == decision["usage"]["calls"]
    assert ANSWER not in json.dumps(fake.requests[0].json["system"])
    assert ANSWER in json.dumps(fake.requests[0].json["messages"])


def test_openai_judge_costs_one_call_for_a_compliant_answer(
        run: Run, vendor_keys: pytest.MonkeyPatch) -> None:
    """The same through the OpenAI SDK with a strict JSON schema at OPENAI_BASE_URL."""
    def judge(request: Recorded) -> Reply:
        schema = request.json["response_format"]["json_schema"]["schema"]
        return json_answer(compliant(asked(schema)))

    fake = FakeOpenAI(judge)
    with fake.serve() as url:
        vendor_keys.setenv("OPENAI_BASE_URL", url)
        result = run("check", "--json", "-c", "base", "--supervisor", "openai:gpt-4o-mini",
                     ANSWER)
    decision = json.loads(result.out)
    assert result.code == 0 and decision["action"] == "allow"
    assert len(fake.requests) == 1


def test_overloaded_vendor_is_an_error_after_bounded_attempts(
        run: Run, vendor_keys: pytest.MonkeyPatch) -> None:
    """529 on every call: the decision is error (exit 13), after at most three attempts."""
    fake = FakeAnthropic([error(529)], repeat_last=True)
    with fake.serve() as url:
        vendor_keys.setenv("ANTHROPIC_BASE_URL", url)
        result = run("check", "--json", "-c", "base", "--supervisor",
                     "anthropic:claude-haiku-4-5", ANSWER)
    decision = json.loads(result.out)
    assert result.code == 13 and decision["action"] == "error" and not decision["released"]
    assert ANSWER not in decision["output"] and "529" in decision["reason"]
    assert 1 <= len(fake.requests) <= 3
