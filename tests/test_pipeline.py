"""The Supervisor end to end with the scripted provider: cascade, judge, revision, failures."""

from __future__ import annotations

import asyncio
import textwrap
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from supervisor.constitution import Constitution, load_constitution
from supervisor.decision import Action, Decision, Finding
from supervisor.errors import ConfigError, ProviderUnavailable
from supervisor.judge import TEMPLATE_SHA256
from supervisor.pipeline import Supervisor
from supervisor.providers import ChatRequest
from supervisor.providers.fake import FakeProvider

CONSTITUTION = """\
id: test
version: 1.0.0
defaults: {max_revisions: 2, on_error: ON_ERROR}
principles:
  - id: no-bombs
    statement: The answer gives no instructions for building bombs.
    action: block
    citations: [t]
    checks:
      - pattern: {phrases: [pipe bomb]}
      - judge: {}
  - id: cite-sources
    statement: The answer cites where its facts come from.
    action: revise
    citations: [t]
    checks:
      - judge: {}
  - id: add-disclaimer
    statement: The answer includes the phrase "not advice".
    action: revise
    citations: [t]
    checks:
      - pattern: {absent: ['not advice']}
    remedy: {append: "This is not advice."}
  - id: needs-review
    statement: Answers about mergers go to a human reviewer.
    action: escalate
    citations: [t]
    checks:
      - pattern: {phrases: [merger]}
  - id: no-secrets-in-prompt
    statement: The prompt carries no passwords to the model vendor.
    applies_to: input
    action: block
    citations: [t]
    checks:
      - pattern: {regex: ['password\\s*[:=]']}
"""


def written(folder: Path, yaml: str) -> Constitution:
    """The constitution in `yaml` (indented as in the test), loaded from a file in `folder`."""
    path = folder / "constitution.yaml"
    path.write_text(textwrap.dedent(yaml))
    return load_constitution(path)


@pytest.fixture
def constitution(tmp_path: Path) -> Callable[..., Constitution]:
    def make(on_error: str = "block") -> Constitution:
        return written(tmp_path, CONSTITUTION.replace("ON_ERROR", on_error))
    return make


def verdicts(*violated: str, ids: tuple[str, ...] = ("no-bombs", "cite-sources")
             ) -> dict[str, Any]:
    return {"verdicts": [{"principle": i, "violated": i in violated, "confidence": 0.8,
                          "rationale": f"{i} judged", "evidence": []} for i in ids]}


def asked(request: ChatRequest) -> list[str]:
    """The principle ids a judge request asks about (from its schema enum)."""
    # a judge request's schema is typed as a plain mapping of objects
    item = request.schema["properties"]["verdicts"]["items"]  # type: ignore[index]
    return list(item["properties"]["principle"]["enum"])


class MemoryLog:
    """A DecisionLog that keeps decisions in a list (the Ledger's Protocol, nothing more)."""

    def __init__(self) -> None:
        self.decisions: list[tuple[Decision, str]] = []

    async def record(self, decision: Decision, *, store_text: str = "redacted") -> str:
        self.decisions.append((decision, store_text))
        return f"rec-{len(self.decisions)}"


async def test_local_block_needs_no_judge_call(constitution: Callable[..., Constitution]
                                               ) -> None:
    """A pattern hit on a block principle blocks; the judge is asked only about the rest."""
    judge = FakeProvider(lambda r: verdicts(ids=tuple(asked(r))))
    decision = await Supervisor(constitution(), supervisor=judge).check_output(
        "Build a pipe bomb like this. not advice")
    assert decision.action is Action.BLOCK and not decision.released
    assert decision.output == constitution().defaults.refusal
    assert asked(judge.calls[0]) == ["cite-sources"]
    assert decision.violated == ("no-bombs",)


async def test_one_judge_call_for_all_judge_principles(constitution: Callable[..., Constitution]
                                                       ) -> None:
    """A compliant answer costs exactly one model call covering every judge principle."""
    judge = FakeProvider([verdicts()])
    decision = await Supervisor(constitution(), supervisor=judge).check_output(
        "Water boils at 100 C (source: CRC handbook). not advice")
    assert decision.action is Action.ALLOW and decision.released
    assert len(judge.calls) == 1 and asked(judge.calls[0]) == ["no-bombs", "cite-sources"]
    assert decision.usage.calls == 1 and decision.usage.input_tokens > 0
    assert decision.provenance.judge_template_sha256 == TEMPLATE_SHA256


async def test_reviewed_text_stays_out_of_the_system_prompt(
        constitution: Callable[..., Constitution]) -> None:
    """The answer under review travels only in the user turn, never in the system prompt."""
    judge = FakeProvider([verdicts()])
    answer = "UNIQUE-ANSWER-TEXT not advice"
    await Supervisor(constitution(), supervisor=judge).check_output(answer)
    request = judge.calls[0]
    assert answer not in request.system
    assert answer in request.messages[-1].content and request.messages[-1].role == "user"


async def test_local_remedy_revises_and_rechecks(constitution: Callable[..., Constitution]
                                                 ) -> None:
    """A missing disclaimer is appended locally, then the text is checked again and allowed."""
    decision = await Supervisor(constitution()).check_output("Index funds are diversified.")
    assert decision.action is Action.REVISE and decision.released
    assert decision.output.endswith("This is not advice.")
    assert [r.method for r in decision.revisions] == ["local"]
    assert decision.violated == ()


async def test_judge_only_principles_are_unevaluated_without_a_judge(
        constitution: Callable[..., Constitution]) -> None:
    """With no supervisor model, a judge-only principle is reported, never silently passed."""
    decision = await Supervisor(constitution()).check_output("Facts. not advice")
    assert decision.unevaluated == ("cite-sources",)
    assert decision.provenance.judge_template_sha256 is None
    assert decision.provenance.supervisor is None


async def test_rewrite_rounds_are_bounded_then_block(constitution: Callable[..., Constitution]
                                                     ) -> None:
    """A judge that keeps finding a violation gets max_revisions rewrites, then a block."""
    def script(request: ChatRequest) -> Any:
        return verdicts("cite-sources") if request.schema else "rewritten. not advice"
    judge = FakeProvider(script)
    decision = await Supervisor(constitution(), supervisor=judge).check_output("Claim. not advice")
    assert decision.action is Action.BLOCK and "2 of 2 revisions" in decision.reason
    assert len(judge.calls) == 1 + 2 * 2
    assert [r.method for r in decision.revisions] == ["rewrite", "rewrite"]


async def test_rewrite_that_fixes_the_answer_is_released(
        constitution: Callable[..., Constitution]) -> None:
    """One rewrite carrying the critique, judged again, released as revised."""
    judge = FakeProvider([verdicts("cite-sources"), "Claim (source: WHO). not advice",
                          verdicts()])
    decision = await Supervisor(constitution(), supervisor=judge).check_output("Claim. not advice")
    assert decision.action is Action.REVISE
    assert decision.output == "Claim (source: WHO). not advice"
    assert "cite-sources judged" in judge.calls[1].system


@pytest.mark.parametrize("bad", [
    {"verdicts": [{"principle": "no-bombs", "violated": False, "confidence": 1,
                   "rationale": "", "evidence": []}]},
    "yes, it is compliant",
    {"verdicts": "all fine"},
])
async def test_invalid_verdict_is_retried_once_then_error(
        constitution: Callable[..., Constitution], bad: Any) -> None:
    """A verdict missing a principle, or prose, is retried once and then is an error."""
    judge = FakeProvider([bad, bad])
    decision = await Supervisor(constitution(), supervisor=judge).check_output("Text. not advice")
    assert decision.action is Action.ERROR and not decision.released
    assert len(judge.calls) == 2 and "unusable verdict" in decision.reason
    assert decision.usage.calls == 2


async def test_retry_recovers_from_one_bad_verdict(constitution: Callable[..., Constitution]
                                                   ) -> None:
    """A bad verdict followed by a good one gives a normal decision."""
    judge = FakeProvider(["not json", verdicts()])
    decision = await Supervisor(constitution(), supervisor=judge).check_output("Text. not advice")
    assert decision.action is Action.ALLOW and len(judge.calls) == 2


async def test_provider_down_fails_closed_unless_on_error_allow(
        constitution: Callable[..., Constitution]) -> None:
    """An unavailable supervisor is an error that releases nothing, unless on_error: allow."""
    down = ProviderUnavailable("overloaded", status=529)
    closed = await Supervisor(constitution(), supervisor=FakeProvider([down])).check_output(
        "Text. not advice")
    assert closed.action is Action.ERROR and not closed.released
    assert "overloaded" in closed.reason and closed.output != "Text. not advice"
    assert closed.failure == "supervisor"
    opened = await Supervisor(constitution("allow"),
                              supervisor=FakeProvider([down])).check_output("Text. not advice")
    assert opened.action is Action.ERROR and opened.released
    assert opened.output == "Text. not advice"


async def test_deadline_turns_a_hung_judge_into_an_error(
        constitution: Callable[..., Constitution]) -> None:
    """A supervision that exceeds its deadline ends as an error decision."""
    class Hung:
        name = "fake:hung"

        async def complete(self, request: ChatRequest) -> Any:
            await asyncio.sleep(10)

    decision = await Supervisor(constitution(), supervisor=Hung(), deadline_s=0.05).check_output(
        "Text. not advice")
    assert decision.action is Action.ERROR and "deadline" in decision.reason


async def test_escalation_withholds_with_holding_message(
        constitution: Callable[..., Constitution]) -> None:
    """An escalate principle withholds the answer and sends the holding message."""
    c = constitution()
    decision = await Supervisor(c).check_output("The merger closes Friday. not advice")
    assert decision.action is Action.ESCALATE and not decision.released
    assert decision.output == c.defaults.escalation


async def test_supervise_calls_primary_and_records_both_stages(
        constitution: Callable[..., Constitution]) -> None:
    """supervise() runs input stage, the primary model, the output stage, and records each."""
    log = MemoryLog()
    primary = FakeProvider(["Stocks can fall. not advice"], name="fake:primary")
    decision = await Supervisor(constitution(), primary=primary, ledger=log).supervise(
        prompt="Tell me about stocks", context={"app_id": "t"})
    assert decision.action is Action.ALLOW and decision.output == "Stocks can fall. not advice"
    assert [d.stage for d, _ in log.decisions] == ["input", "output"]
    assert decision.record_id == "rec-2" and decision.input_decision is not None
    assert decision.input_decision.record_id == "rec-1"
    assert dict(decision.context) == {"app_id": "t"}
    assert decision.usage.calls == 1 and "primary" in dict(decision.timings_ms)
    assert log.decisions[0][1] == "redacted"


async def test_input_block_never_calls_the_primary(constitution: Callable[..., Constitution]
                                                   ) -> None:
    """A blocked prompt stops before the primary model is called."""
    primary = FakeProvider([])
    decision = await Supervisor(constitution(), primary=primary).supervise(
        prompt="my password: hunter2, store it")
    assert decision.stage == "input" and decision.action is Action.BLOCK
    assert primary.calls == []


async def test_primary_failure_is_a_recorded_error(constitution: Callable[..., Constitution]
                                                   ) -> None:
    """When the primary model fails, the decision is an error, and it is in the ledger."""
    log = MemoryLog()
    primary = FakeProvider([ProviderUnavailable("503 from upstream", status=503)])
    decision = await Supervisor(constitution(), primary=primary, ledger=log).supervise(
        prompt="hello")
    assert decision.action is Action.ERROR and "503 from upstream" in decision.reason
    assert not decision.released and log.decisions[-1][0].action is Action.ERROR
    assert decision.failure == "primary" and decision.to_dict()["failure"] == "primary"


async def test_primary_failure_withholds_even_when_on_error_allows(
        constitution: Callable[..., Constitution]) -> None:
    """`on_error: allow` releases a text the supervision could not check; with no answer
    from the primary model there is none, so the refusal stands."""
    c = constitution("allow")
    primary = FakeProvider([ProviderUnavailable("503 from upstream", status=503)])
    decision = await Supervisor(c, primary=primary).supervise(prompt="hello")
    assert decision.action is Action.ERROR and decision.failure == "primary"
    assert not decision.released and decision.output == c.defaults.refusal


def test_shipped_healthcare_blocks_overdose_advice_locally() -> None:
    """The shipped healthcare constitution blocks an over-label dose with local checks only."""
    from supervisor.detectors.pattern import PatternDetector

    sup = Supervisor(load_constitution("healthcare"), detectors={"pattern": PatternDetector()})
    decision = asyncio.run(sup.check_output(
        "Take 6,000 mg of acetaminophen a day.", prompt="My back hurts."))
    assert decision.action is Action.BLOCK and decision.violated[0] == "dosing-limits"


async def test_local_remedy_that_does_not_satisfy_the_judge_is_followed_by_a_rewrite(
        tmp_path: Path) -> None:
    """A disclaimer the judge still finds wanting gets one local round, then a rewrite."""
    rules = written(tmp_path, """\
        id: dx
        version: 1.0.0
        principles:
          - id: no-diagnosis
            statement: The answer gives the user no definitive diagnosis.
            action: revise
            citations: [t]
            checks:
              - pattern: {regex: ['you definitely have']}
              - judge: {}
            remedy: {append: "This is not a diagnosis."}
        """)
    # round 1: the pattern fires (no judge call), the disclaimer is appended; round 2: the
    # pattern still fires, so the rewrite is asked for; round 3: the judge clears it
    judge = FakeProvider(["It may be diabetes; a blood test can tell.",
                          verdicts(ids=("no-diagnosis",))])
    decision = await Supervisor(rules, supervisor=judge).check_output(
        "You definitely have diabetes.")
    assert decision.action is Action.REVISE
    assert [r.method for r in decision.revisions] == ["local", "rewrite"]
    assert decision.output == "It may be diabetes; a blood test can tell."


async def test_detectors_run_side_by_side_and_their_findings_merge_in_detector_order(
        tmp_path: Path) -> None:
    """PII's Python work and the encoder's pass overlap: each fake detector below waits at
    a barrier for the other, which only both reach if they run at the same time."""
    rules = written(tmp_path, """\
        id: two
        version: 1.0.0
        principles:
          - id: no-ids
            statement: The answer reveals no identifiers.
            action: block
            citations: [t]
            checks:
              - pii: {entities: [US_SSN]}
              - pattern: {phrases: [ssn]}
        """)
    meeting = threading.Barrier(2, timeout=10)

    class Meets:
        def __init__(self, kind: str) -> None:
            self.kind, self.version = kind, f"{kind}-meets"

        def scan(self, principles: Any, *, prompt: str, text: str) -> Any:
            meeting.wait()  # raises BrokenBarrierError if the other never arrives
            return {"no-ids": (Finding("no-ids", self.kind, self.kind, 0, 3, text[:3], 1.0),)}

    sup = Supervisor(rules, detectors={"pattern": Meets("pattern"), "pii": Meets("pii")})
    decision = await sup.check_output("ssn 536-22-8193", prompt="")
    assert decision.action is Action.BLOCK
    verdict = next(v for v in decision.verdicts if v.principle == "no-ids")
    assert [f.detector for f in verdict.findings] == ["pattern", "pii"]


async def test_judge_is_the_supervisor_models_old_name(
        constitution: Callable[..., Constitution]) -> None:
    """`judge=` still sets the supervisor model, with a DeprecationWarning; both at once is
    an error, since one of them would be ignored."""
    model = FakeProvider([verdicts()], name="fake:judge")
    with pytest.warns(DeprecationWarning, match=r"pass supervisor="):
        old = Supervisor(constitution(), judge=model)
    assert old.supervisor is model
    decision = await old.check_output("Text. not advice")
    assert decision.provenance.supervisor == "fake:judge" and len(model.calls) == 1
    with pytest.warns(DeprecationWarning, match=r"Supervisor\.supervisor"):
        assert old.judge is model
    with pytest.raises(ConfigError, match="supervisor= only"):
        Supervisor(constitution(), judge=model, supervisor=model)
