"""The values a supervision produces: findings, verdicts, revisions and the decision.

All of them are frozen so a decision that has been written to the ledger cannot be
changed afterwards by the code that holds it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Literal

Stage = Literal["input", "output"]
# who failed when the supervisor could not decide: the model asked for the answer, or the
# supervision itself (its model, its deadline, a required judge that is missing)
Failure = Literal["primary", "supervisor"]
# which text a decision shows the caller: the checked (or revised) text, the text as it
# came in, or the constitution's refusal or holding message
Shown = Literal["text", "original", "refusal", "escalation"]


class Action(StrEnum):
    """What happens to the answer. `error` means the supervisor could not decide."""

    ALLOW = "allow"
    REVISE = "revise"
    BLOCK = "block"
    ESCALATE = "escalate"
    ERROR = "error"

    @property
    def exit_code(self) -> int:
        """The `supervisor check` exit status for this action (docs/constitutions.md lists them)."""
        return _EXIT_CODES[self]


_EXIT_CODES = {
    Action.ALLOW: 0,
    Action.REVISE: 10,
    Action.BLOCK: 11,
    Action.ESCALATE: 12,
    Action.ERROR: 13,
}


@dataclass(frozen=True, slots=True)
class Finding:
    """One thing a local detector saw: which principle, where, what and how sure."""

    principle: str
    detector: str
    label: str
    start: int
    end: int
    text: str
    score: float


@dataclass(frozen=True, slots=True)
class Verdict:
    """Whether one principle was violated, and who said so on what evidence.

    `citations` are the principle's own (the rules it serves), attached by the Supervisor
    when it concludes a stage, so every decision and record names them.
    """

    principle: str
    violated: bool
    confidence: float
    rationale: str
    source: str
    evidence: tuple[str, ...] = ()
    findings: tuple[Finding, ...] = ()
    citations: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Revision:
    """One round of revision: which principles it answered, how, and the new text."""

    round: int
    principles: tuple[str, ...]
    method: Literal["local", "rewrite"]
    text: str


@dataclass(frozen=True, slots=True)
class Usage:
    """Model calls and tokens spent by one supervision; cost is None when unknown."""

    calls: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float | None = 0.0

    def __add__(self, other: Usage) -> Usage:
        cost = (
            None
            if self.cost_usd is None or other.cost_usd is None
            else self.cost_usd + other.cost_usd
        )
        return Usage(
            self.calls + other.calls,
            self.input_tokens + other.input_tokens,
            self.output_tokens + other.output_tokens,
            cost,
        )


@dataclass(frozen=True, slots=True)
class Ruling:
    """What the pure policy (`supervisor.policy.decide`) concluded: the action, the
    principles behind it, and what the caller is shown.

    `again` asks for another revision round on `principles`; `failure` says who failed
    when the action is `error`; `released` and `shows` say whether the caller may use the
    answer and which text stands in the decision's `output`.
    """

    action: Action
    principles: tuple[str, ...] = ()
    flags: tuple[str, ...] = ()
    reason: str = ""
    again: bool = False
    failure: Failure | None = None
    released: bool = True
    shows: Shown = "text"


@dataclass(frozen=True, slots=True)
class Provenance:
    """Which constitution, models and prompt template produced a decision."""

    constitution_id: str
    constitution_version: str
    constitution_sha256: str
    primary: str | None = None
    supervisor: str | None = None
    judge_template_sha256: str | None = None
    detectors: tuple[str, ...] = ()
    calibration_sha256: str | None = None


@dataclass(frozen=True, slots=True)
class Decision:
    """The outcome of supervising one stage (input or output) of one exchange.

    `output` is what the caller may show: the original or revised text when allowed or
    revised, the constitution's refusal or holding message otherwise. `original` is the
    text that was checked. `unevaluated` lists principles nobody could check (a judge-only
    principle with no supervisor model configured), never silently counted as passed.
    `failure` says who failed when the action is `error` (a proxy answers 502 for the
    primary model, 503 for the supervision).
    """

    action: Action
    stage: Stage
    prompt: str
    original: str
    output: str
    verdicts: tuple[Verdict, ...]
    provenance: Provenance
    revisions: tuple[Revision, ...] = ()
    unevaluated: tuple[str, ...] = ()
    flags: tuple[str, ...] = ()
    reason: str = ""
    released: bool = True
    usage: Usage = field(default_factory=Usage)
    primary_usage: Usage = field(default_factory=Usage)  # the primary's share of `usage`
    timings_ms: tuple[tuple[str, float], ...] = ()
    context: tuple[tuple[str, str], ...] = ()
    record_id: str | None = None
    input_decision: Decision | None = None
    failure: Failure | None = None

    @property
    def violated(self) -> tuple[str, ...]:
        """Ids of the principles found violated in the last round checked."""
        return tuple(v.principle for v in self.verdicts if v.violated)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready view, used by `check --json`, the HTTP API and the ledger."""
        return {
            "action": str(self.action),
            "stage": self.stage,
            "released": self.released,
            "output": self.output,
            "original": self.original,
            "prompt": self.prompt,
            "reason": self.reason,
            "failure": self.failure,
            "violated": list(self.violated),
            "flags": list(self.flags),
            "unevaluated": list(self.unevaluated),
            "verdicts": [_verdict_dict(v) for v in self.verdicts],
            "revisions": [
                {"round": r.round, "principles": list(r.principles), "method": r.method,
                 "text": r.text}
                for r in self.revisions
            ],
            "provenance": _provenance_dict(self.provenance),
            "usage": _usage_dict(self.usage),
            "primary_usage": _usage_dict(self.primary_usage),
            "timings_ms": dict(self.timings_ms),
            "context": dict(self.context),
            "record_id": self.record_id,
            "input_decision": self.input_decision.to_dict() if self.input_decision else None,
        }


def _usage_dict(u: Usage) -> dict[str, Any]:
    return {"calls": u.calls, "input_tokens": u.input_tokens,
            "output_tokens": u.output_tokens, "cost_usd": u.cost_usd}


def _verdict_dict(v: Verdict) -> dict[str, Any]:
    return {
        "principle": v.principle,
        "violated": v.violated,
        "confidence": v.confidence,
        "rationale": v.rationale,
        "source": v.source,
        "citations": list(v.citations),
        "evidence": list(v.evidence),
        "findings": [
            {"detector": f.detector, "label": f.label, "start": f.start, "end": f.end,
             "score": f.score}
            for f in v.findings
        ],
    }


def _provenance_dict(p: Provenance) -> dict[str, Any]:
    return {
        "constitution": {"id": p.constitution_id, "version": p.constitution_version,
                         "sha256": p.constitution_sha256},
        "primary": p.primary,
        "supervisor": p.supervisor,
        "judge_template_sha256": p.judge_template_sha256,
        "detectors": list(p.detectors),
        "calibration_sha256": p.calibration_sha256,
    }
