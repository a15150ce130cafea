"""The Supervisor with vendor adapters resolved from references, against loopback servers.

These pin the issue's acceptance: through the official SDKs at ANTHROPIC_BASE_URL /
OPENAI_BASE_URL, a compliant answer costs one model call, a revision never more than
1 + 2 x max_revisions, and an overloaded vendor or an unusable verdict ends in an
`error` decision after a bounded number of attempts.
"""

from __future__ import annotations

import pytest

from supervisor.constitution import Constitution
from supervisor.decision import Action
from supervisor.pipeline import Supervisor
from supervisor.providers.registry import resolve
from supervisor.providers.resilience import RetryPolicy
from tests.fakes.anthropic_server import FakeAnthropic, error, message, tool_call
from tests.fakes.openai_server import FakeOpenAI, json_answer
from tests.providers.conftest import verdicts

FAST = RetryPolicy(attempts=3, base_delay=0.01, max_delay=0.02)
ANSWER = "Ibuprofen can upset the stomach (source: the package leaflet)."


@pytest.fixture(autouse=True)
def keys(monkeypatch: pytest.MonkeyPatch) -> None:
    """Keys for the fake vendors (any value is accepted)."""
    monkeypatch.setenv("ANTHROPIC_API_KEY", "test")
    monkeypatch.setenv("OPENAI_API_KEY", "test")


async def test_compliant_answer_costs_one_call(constitution: Constitution,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """anthropic:M at ANTHROPIC_BASE_URL: one forced tool call, allow, text off the system."""
    fake = FakeAnthropic([tool_call("record_verdicts", verdicts())])
    with fake.serve() as url:
        monkeypatch.setenv("ANTHROPIC_BASE_URL", url)
        judge = resolve("anthropic:claude-haiku-4-5", timeout=5, policy=FAST)
        decision = await Supervisor(constitution, supervisor=judge, detectors={}).check_output(
            ANSWER, prompt="Is ibuprofen safe?")
    assert decision.action is Action.ALLOW and decision.usage.calls == 1
    assert len(fake.requests) == 1
    assert ANSWER not in fake.requests[0].json["system"]
    assert decision.provenance.supervisor == "anthropic:claude-haiku-4-5"
    assert decision.usage.cost_usd is not None and decision.usage.cost_usd > 0


async def test_revision_stays_within_one_plus_two_calls_per_round(
        constitution: Constitution, monkeypatch: pytest.MonkeyPatch) -> None:
    """A revise verdict: judge, rewrite, judge again; 3 calls for max_revisions 1."""
    fake = FakeAnthropic([tool_call("record_verdicts", verdicts("cite-sources")),
                          message("Ibuprofen can upset the stomach (source: NHS)."),
                          tool_call("record_verdicts", verdicts())])
    with fake.serve() as url:
        monkeypatch.setenv("ANTHROPIC_BASE_URL", url)
        judge = resolve("anthropic:claude-haiku-4-5", timeout=5, policy=FAST)
        decision = await Supervisor(constitution, supervisor=judge, detectors={}).check_output(
            "Ibuprofen can upset the stomach.")
    limit = 1 + 2 * constitution.defaults.max_revisions
    assert decision.action is Action.REVISE and decision.output.endswith("(source: NHS).")
    assert len(fake.requests) == decision.usage.calls == 3 <= limit
    assert "tools" not in fake.requests[1].json  # the rewrite is a plain text call


async def test_overloaded_vendor_gives_an_error_decision(
        constitution: Constitution, monkeypatch: pytest.MonkeyPatch) -> None:
    """529 on every call: `attempts` tries, then action error, released nothing, reason kept."""
    fake = FakeAnthropic([error(529)], repeat_last=True)
    with fake.serve() as url:
        monkeypatch.setenv("ANTHROPIC_BASE_URL", url)
        judge = resolve("anthropic:claude-haiku-4-5", timeout=5, policy=FAST)
        decision = await Supervisor(constitution, supervisor=judge, detectors={}).check_output(
            ANSWER)
    assert decision.action is Action.ERROR and not decision.released
    assert len(fake.requests) == FAST.attempts
    assert "529" in decision.reason


async def test_unparseable_verdict_gives_an_error_after_one_retry(
        constitution: Constitution, monkeypatch: pytest.MonkeyPatch) -> None:
    """Strict-schema content that is not a verdict: asked twice, then action error."""
    fake = FakeOpenAI([json_answer({"verdicts": [{"principle": "no-dosing"}]})],
                      repeat_last=True)
    with fake.serve() as url:
        monkeypatch.setenv("OPENAI_BASE_URL", url + "/v1")
        judge = resolve("openai:gpt-4o-mini", timeout=5, policy=FAST)
        decision = await Supervisor(constitution, supervisor=judge, detectors={}).check_output(
            ANSWER)
    assert decision.action is Action.ERROR and len(fake.requests) == 2
    assert "unusable verdict" in decision.reason


async def test_second_vendor_takes_over_when_the_first_is_down(
        constitution: Constitution, monkeypatch: pytest.MonkeyPatch) -> None:
    """anthropic down (503), openai up: the chain's verdict comes from openai."""
    down = FakeAnthropic([error(503)], repeat_last=True)
    up = FakeOpenAI([json_answer(verdicts())])
    with down.serve() as anthropic_url, up.serve() as openai_url:
        monkeypatch.setenv("ANTHROPIC_BASE_URL", anthropic_url)
        monkeypatch.setenv("OPENAI_BASE_URL", openai_url + "/v1")
        judge = resolve("anthropic:claude-haiku-4-5,openai:gpt-4o-mini", timeout=5,
                        policy=FAST)
        decision = await Supervisor(constitution, supervisor=judge, detectors={}).check_output(
            ANSWER)
    assert decision.action is Action.ALLOW
    assert len(down.requests) == FAST.attempts and len(up.requests) == 1
