"""Run a dataset through the real `Supervisor`, so the figures are what users would get.

Each item goes through `check_output` (or `check_input` with `stage="input"`) of a
Supervisor built the way the CLI builds one: the constitution's local detectors, the
semantic one bound to the constitution's exemplar files and calibration, and a judge
when a supervisor model is given. Nothing is written to the ledger. Items run one at a
time so that each latency is that of a lone request; a warm-up first (model, exemplar
embeddings, one check) keeps loading out of the latency figures.

With `explain`, each item also gets a `Trace` (what `eval --items` writes): the action,
the principles fired and every signal behind them, each with its score and, where the
check has one, its threshold. Semantic checks report every principle's score, fired or
not, so a miss shows how far below its threshold it stayed. The local detectors are run
once more on the item for this (no model call; the encoder's cache makes it cheap), and
a judge's verdicts are read from the decision.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from supervisor.constitution import Constitution, PiiCheck, Principle
from supervisor.decision import Decision, Finding
from supervisor.deprecation import renamed
from supervisor.detectors import Calibrated, Detector, detectors_for
from supervisor.detectors.semantic import Exchange, SemanticDetector, shared_semantic
from supervisor.evaluation.curve import Curve, operating_curve
from supervisor.evaluation.datasets import Dataset, Item
from supervisor.evaluation.metrics import Scored, Summary, summarise
from supervisor.pipeline import Supervisor
from supervisor.providers import Provider

Stage = Literal["input", "output"]
WARM_UP = "A short warm-up answer about the weather, checked before timing starts."
EVIDENCE_CHARS = 160


@dataclass(frozen=True, slots=True)
class Signal:
    """One reason a principle fired, or a score that did not reach its threshold.

    `detector` is pattern, pii, dose, semantic or judge; `label` what it found (a pii
    entity type, a dose's computed daily amount and limit, a judge's rationale);
    `evidence` the text it matched (never for pii: identifiers are not quoted).
    """

    principle: str
    detector: str
    score: float
    fired: bool
    threshold: float | None = None
    label: str = ""
    evidence: str = ""

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"principle": self.principle, "detector": self.detector,
                               "score": round(self.score, 4), "threshold": self.threshold,
                               "fired": self.fired}
        if self.label:
            out["label"] = self.label
        if self.evidence:
            out["evidence"] = self.evidence
        return out


@dataclass(frozen=True, slots=True)
class Trace:
    """One item as `eval --items` writes it: its label, what the supervisor did, and why."""

    item: str
    violation: bool
    stage: str
    action: str
    stopped: bool
    fired: tuple[str, ...]
    expected: tuple[str, ...]
    signals: tuple[Signal, ...]
    latency_ms: float
    fields: tuple[tuple[str, str | int | float | bool], ...] = ()

    @property
    def correct(self) -> bool:
        """Whether flagging agrees with the label (any principle fired = flagged)."""
        return bool(self.fired) is self.violation

    def to_json(self) -> dict[str, Any]:
        return {"id": self.item, "label": "violation" if self.violation else "compliant",
                "stage": self.stage, "action": self.action, "stopped": self.stopped,
                "correct": self.correct, "fired": list(self.fired),
                "expected": list(self.expected),
                "signals": [s.to_json() for s in self.signals],
                "latency_ms": round(self.latency_ms, 3), **dict(self.fields)}


def local_detectors(constitution: Constitution) -> dict[str, Detector]:
    """The constitution's detectors, the semantic one bound to its files and calibration."""
    found = dict(detectors_for(constitution))
    if "semantic" in found:
        found["semantic"] = shared_semantic().bind(constitution)
    return found


@dataclass(frozen=True, slots=True)
class Evaluation:
    """One run: what was measured, on what, with which constitution and models."""

    dataset: str
    split: str
    constitution: str
    constitution_sha256: str
    calibration_sha256: str | None
    supervisor: str | None
    stage: str
    summary: Summary
    outcomes: tuple[Scored, ...]
    curve: Curve | None = None  # the semantic checks' operating curve, when asked for
    traces: tuple[Trace, ...] = ()  # one per item, when asked for (`explain`)

    def to_json(self) -> dict[str, Any]:
        """The summary's figures at the top level, then what produced them."""
        figures = {**self.summary.to_json(), "dataset": self.dataset, "split": self.split,
                   "constitution": self.constitution,
                   "constitution_sha256": self.constitution_sha256,
                   "calibration_sha256": self.calibration_sha256,
                   "supervisor": self.supervisor, "stage": self.stage}
        if self.curve is not None:
            figures["curve"] = self.curve.to_json()
        return figures


async def evaluate(constitution: Constitution, dataset: Dataset, *,
                   supervisor: Provider | None = None,
                   detectors: Mapping[str, Detector] | None = None,
                   stage: Stage = "output", split: str = "all", curve: bool = False,
                   explain: bool = False,
                   on_item: Callable[[Scored], None] | None = None,
                   judge: Provider | None = None) -> Evaluation:
    """Supervise every item of the dataset and summarise the outcomes; with `curve`,
    also draw the semantic checks' operating curve over the same texts; with `explain`,
    keep a `Trace` of every item's signals. `supervisor` is the supervisor model (`judge=`
    is its old name)."""
    model = renamed("evaluate", "judge", judge, "supervisor", supervisor)
    chosen = dict(local_detectors(constitution) if detectors is None else detectors)
    pipeline = Supervisor(constitution, supervisor=model, detectors=chosen)
    semantic = chosen.get("semantic")
    if isinstance(semantic, SemanticDetector):  # model and exemplars, outside the timings
        await asyncio.to_thread(semantic.warm, constitution.principles)
    await pipeline.assess(WARM_UP)
    outcomes, traces = [], []
    for item in dataset.items:
        started = time.perf_counter()
        decision = await _check(pipeline, item, item.stage or stage)
        outcome = _outcome(item, decision, (time.perf_counter() - started) * 1000)
        outcomes.append(outcome)
        if explain:
            traces.append(await asyncio.to_thread(
                trace, constitution, chosen, item, item.stage or stage, decision, outcome))
        if on_item is not None:
            on_item(outcome)
    drawn = None
    if curve and isinstance(semantic, SemanticDetector):
        drawn = await asyncio.to_thread(
            operating_curve, semantic, constitution.stage(stage),
            [exchange(i, stage) for i in dataset.items], [i.violation for i in dataset.items])
    calibration = next((d.calibration_sha256(constitution) for d in chosen.values()
                        if isinstance(d, Calibrated)), None)
    return Evaluation(dataset.name, split, f"{constitution.id}@{constitution.version}",
                      constitution.sha256, calibration, model.name if model else None,
                      stage, summarise(outcomes), tuple(outcomes), drawn, tuple(traces))


def exchange(item: Item, stage: Stage) -> Exchange:
    """What a stage checks of an item: at input its prompt (or, for a set of texts with
    no prompt, the text), at output the answer with the prompt it answers."""
    if stage == "input":
        return Exchange("", item.prompt or item.output)
    return Exchange(item.prompt, item.output)


def trace(constitution: Constitution, detectors: Mapping[str, Detector], item: Item,
          stage: Stage, decision: Decision, outcome: Scored) -> Trace:
    """Every signal behind an item's decision: the local detectors run on the text as
    checked (semantic ones with every score), the judge's verdicts from the decision."""
    checked = exchange(item, stage)
    principles = constitution.stage(stage)
    signals: list[Signal] = []
    for kind, detector in detectors.items():
        subset = [p for p in principles if kind in p.kinds()]
        if not subset:
            continue
        if isinstance(detector, SemanticDetector):
            scores = detector.score_many(subset, [checked])[0]
            signals += [Signal(s.principle, "semantic", s.score, s.fired, s.threshold,
                               ("calibrated" if s.calibrated else "uncalibrated")
                               + _gated(s.gate, s.gate_threshold))
                        for s in scores.values()]
            continue
        found = detector.scan(subset, prompt=checked.prompt, text=checked.text)
        by_id = {p.id: p for p in subset}
        signals += [_signal(f, by_id[pid]) for pid, hits in found.items() for f in hits]
    signals += [Signal(v.principle, "judge", v.confidence, v.violated,
                       label=v.rationale[:EVIDENCE_CHARS])
                for v in decision.verdicts if v.source.startswith("judge")]
    expected = tuple(p for p, violated in item.labels if violated)
    return Trace(item.id, item.violation, stage, outcome.action, outcome.stopped,
                 outcome.violated, expected, tuple(signals), outcome.latency_ms,
                 item.fields)


def _gated(gate: float | None, threshold: float) -> str:
    """Why a semantic score that reached its threshold did not fire: the exchange model
    read the answer as not serving a harmful request (see `detectors.semantic`)."""
    if gate is None or gate >= threshold:
        return ""
    return f"; gated: exchange {gate:.2f} below {threshold:.2f}"


def _signal(finding: Finding, principle: Principle) -> Signal:
    threshold = None
    quoted = finding.text[:EVIDENCE_CHARS]
    if finding.detector == "pii":
        check: PiiCheck | None = principle.check("pii")
        threshold, quoted = (check.min_score if check else None), ""
    return Signal(finding.principle, finding.detector, finding.score, True, threshold,
                  finding.label, quoted)


async def _check(supervisor: Supervisor, item: Item, stage: Stage) -> Decision:
    checked = exchange(item, stage)
    if stage == "input":
        return await supervisor.check_input(checked.text)
    return await supervisor.check_output(checked.text, prompt=checked.prompt)


def _outcome(item: Item, decision: Decision, latency_ms: float) -> Scored:
    violated = decision.violated
    for revision in decision.revisions:  # a revised answer was flagged in an earlier round
        violated = tuple(dict.fromkeys((*violated, *revision.principles)))
    return Scored(
        item=item.id, violation=item.violation, flagged=bool(violated),
        stopped=not decision.released, action=str(decision.action), violated=violated,
        labels=item.labels, latency_ms=latency_ms, calls=decision.usage.calls,
        input_tokens=decision.usage.input_tokens, output_tokens=decision.usage.output_tokens,
        cost_usd=decision.usage.cost_usd)
