"""Run a dataset through the real `Supervisor`, so the figures are what users would get.

Each item goes through `check_output` (or `check_input` with `stage="input"`) of a
Supervisor built the way the CLI builds one: the constitution's local detectors, the
semantic one bound to the constitution's exemplar files and calibration, and a judge
when a supervisor model is given. Nothing is written to the ledger. Items run one at a
time so that each latency is that of a lone request; a warm-up first (model, exemplar
embeddings, one check) keeps loading out of the latency figures.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from supervisor.constitution import Constitution
from supervisor.decision import Decision
from supervisor.detectors import Calibrated, Detector, detectors_for
from supervisor.detectors.semantic import Exchange, SemanticDetector, shared_semantic
from supervisor.evaluation.curve import Curve, operating_curve
from supervisor.evaluation.datasets import Dataset, Item
from supervisor.evaluation.metrics import Outcome, Summary, summarise
from supervisor.pipeline import Supervisor
from supervisor.providers import Provider

Stage = Literal["input", "output"]
WARM_UP = "A short warm-up answer about the weather, checked before timing starts."


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
    outcomes: tuple[Outcome, ...]
    curve: Curve | None = None  # the semantic checks' operating curve, when asked for

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
                   judge: Provider | None = None,
                   detectors: Mapping[str, Detector] | None = None,
                   stage: Stage = "output", split: str = "all", curve: bool = False,
                   on_item: Callable[[Outcome], None] | None = None) -> Evaluation:
    """Supervise every item of the dataset and summarise the outcomes; with `curve`,
    also draw the semantic checks' operating curve over the same texts."""
    chosen = dict(local_detectors(constitution) if detectors is None else detectors)
    supervisor = Supervisor(constitution, judge=judge, detectors=chosen)
    semantic = chosen.get("semantic")
    if isinstance(semantic, SemanticDetector):  # model and exemplars, outside the timings
        await asyncio.to_thread(semantic.warm, constitution.principles)
    await supervisor.assess(WARM_UP)
    outcomes = []
    for item in dataset.items:
        started = time.perf_counter()
        decision = await _check(supervisor, item, stage)
        outcome = _outcome(item, decision, (time.perf_counter() - started) * 1000)
        outcomes.append(outcome)
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
                      constitution.sha256, calibration, judge.name if judge else None,
                      stage, summarise(outcomes), tuple(outcomes), drawn)


def exchange(item: Item, stage: Stage) -> Exchange:
    """What a stage checks of an item: at input its text as a prompt (the output, or the
    prompt when there is none), at output the answer with the prompt it answers."""
    if stage == "input":
        return Exchange("", item.output or item.prompt)
    return Exchange(item.prompt, item.output)


async def _check(supervisor: Supervisor, item: Item, stage: Stage) -> Decision:
    checked = exchange(item, stage)
    if stage == "input":
        return await supervisor.check_input(checked.text)
    return await supervisor.check_output(checked.text, prompt=checked.prompt)


def _outcome(item: Item, decision: Decision, latency_ms: float) -> Outcome:
    violated = decision.violated
    for revision in decision.revisions:  # a revised answer was flagged in an earlier round
        violated = tuple(dict.fromkeys((*violated, *revision.principles)))
    return Outcome(
        item=item.id, violation=item.violation, flagged=bool(violated),
        stopped=not decision.released, action=str(decision.action), violated=violated,
        labels=item.labels, latency_ms=latency_ms, calls=decision.usage.calls,
        input_tokens=decision.usage.input_tokens, output_tokens=decision.usage.output_tokens,
        cost_usd=decision.usage.cost_usd)
