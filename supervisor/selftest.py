"""A constitution's own tests: run each principle's labelled examples through the checks.

Each example is checked against its principle alone, and with that example left out of
the principle's examples, so a `semantic` check (which uses examples as exemplars)
cannot pass by recognising the very sentence it is tested on.

Each example is checked within `deadline_s`, counted after its models load (the copy's
exemplar matrices included); one that runs past it is an `error` result saying so, and
the other examples still run.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Literal

from supervisor.constitution import Constitution, Example, Principle
from supervisor.deprecation import renamed
from supervisor.detectors import Detector
from supervisor.errors import DeadlineExceeded
from supervisor.pipeline import Supervisor
from supervisor.providers import Provider

Result = Literal["pass", "fail", "unevaluated", "error"]


@dataclass(frozen=True, slots=True)
class ExampleResult:
    """How one example came out: expected label, what the checks said, and by whom."""

    principle: str
    index: int
    expect: str
    got: str
    outcome: Result
    source: str
    detail: str = ""


@dataclass(frozen=True, slots=True)
class SelfTest:
    """All example results of one constitution."""

    constitution: str
    version: str
    results: tuple[ExampleResult, ...]

    @property
    def ok(self) -> bool:
        return all(r.outcome == "pass" for r in self.results)

    def count(self, outcome: Result) -> int:
        return sum(r.outcome == outcome for r in self.results)


async def run_examples(constitution: Constitution, *, supervisor: Provider | None = None,
                       detectors: Mapping[str, Detector] | None = None,
                       deadline_s: float = 30.0, judge: Provider | None = None) -> SelfTest:
    """Check every example of every principle; nothing is written to the ledger.

    `supervisor` is the supervisor model; `judge=` is its old name.
    """
    model = renamed("run_examples", "judge", judge, "supervisor", supervisor)
    results: list[ExampleResult] = []
    for principle in constitution.principles:
        for index, example in enumerate(principle.examples):
            results.append(await _one(constitution, principle, index, example, model,
                                      detectors, deadline_s))
    return SelfTest(constitution.id, constitution.version, tuple(results))


async def _one(constitution: Constitution, principle: Principle, index: int, example: Example,
               judge: Provider | None, detectors: Mapping[str, Detector] | None,
               deadline_s: float) -> ExampleResult:
    others = tuple(e for i, e in enumerate(principle.examples) if i != index)
    alone = replace(constitution, principles=(principle.model_copy(update={"examples": others}),))
    supervisor = Supervisor(alone, supervisor=judge, detectors=detectors, deadline_s=deadline_s)
    stage = principle.applies_to
    text = example.prompt if stage == "input" else example.output
    prompt = "" if stage == "input" else example.prompt
    try:
        assessment = await supervisor.assess(text, prompt=prompt, stage=stage)
    except DeadlineExceeded as exc:
        return ExampleResult(principle.id, index, example.expect, "error", "error",
                             "deadline", str(exc))
    if assessment.error:
        return ExampleResult(principle.id, index, example.expect, "error", "error", "judge",
                             assessment.error)
    if principle.id in assessment.unevaluated:
        return ExampleResult(principle.id, index, example.expect, "unevaluated",
                             "unevaluated", "", "only a judge check; pass --supervisor MODEL")
    verdict = next(v for v in assessment.verdicts if v.principle == principle.id)
    got = "violated" if verdict.violated else "compliant"
    return ExampleResult(principle.id, index, example.expect, got,
                         "pass" if got == example.expect else "fail", verdict.source,
                         verdict.rationale)
