"""PII detection scored on labelled spans (the presidio-synth set): per-entity P/R.

A gold span is found when a prediction of its mapped type covers at least half of it; a
prediction is correct when it covers at least half of a gold span of its type (or the
gold span covers half of it). Dataset types map to ours where a recognizer exists
(STREET_ADDRESS and GPE -> LOCATION, DOMAIN_NAME -> URL); ORGANIZATION, TITLE, AGE and
ZIP_CODE have no recognizer and are reported as not detected, never dropped silently.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from supervisor.evaluation.datasets import resolve_root
from supervisor.evaluation.metrics import percentile

MAPPING = {
    "PERSON": "PERSON", "CREDIT_CARD": "CREDIT_CARD", "EMAIL_ADDRESS": "EMAIL_ADDRESS",
    "PHONE_NUMBER": "PHONE_NUMBER", "US_SSN": "US_SSN", "IBAN_CODE": "IBAN_CODE",
    "IP_ADDRESS": "IP_ADDRESS", "US_DRIVER_LICENSE": "US_DRIVER_LICENSE",
    "DATE_TIME": "DATE_TIME", "NRP": "NRP", "STREET_ADDRESS": "LOCATION", "GPE": "LOCATION",
    "DOMAIN_NAME": "URL",
}
TARGET = ("PERSON", "CREDIT_CARD", "EMAIL_ADDRESS", "PHONE_NUMBER", "US_SSN", "IBAN_CODE")
MIN_SCORE = 0.4


@dataclass(frozen=True, slots=True)
class Span:
    entity: str
    start: int
    end: int


@dataclass(frozen=True, slots=True)
class Sample:
    text: str
    spans: tuple[Span, ...]


@dataclass(frozen=True, slots=True)
class EntityScore:
    """Counts for one dataset entity type; precision is None when nothing was predicted."""

    entity: str
    ours: str | None
    gold: int
    found: int
    predicted: int
    correct: int

    @property
    def recall(self) -> float:
        return self.found / self.gold if self.gold else 0.0

    @property
    def precision(self) -> float | None:
        return self.correct / self.predicted if self.predicted else None


@dataclass(frozen=True, slots=True)
class PiiScores:
    """Per-entity scores, combined recall over TARGET, and analysis latency."""

    entities: tuple[EntityScore, ...]
    target_recall: float
    latency_p50_ms: float
    latency_p95_ms: float
    samples: int


def load_synth(path: str | Path | None = None, limit: int | None = None) -> list[Sample]:
    """The presidio-synth file from the shared evaluation folder (or `path`)."""
    file = Path(path) if path else resolve_root() / "presidio-synth" / "synth_dev_750.json"
    raw = json.loads(file.read_text(encoding="utf-8"))
    samples = [Sample(item["full_text"], tuple(
        Span(s["entity_type"], s["start_position"], s["end_position"]) for s in item["spans"]))
        for item in raw]
    return samples[:limit] if limit else samples


def _covers(a: Span, b: Span) -> bool:
    """Whether `a` overlaps at least half of `b`."""
    overlap = min(a.end, b.end) - max(a.start, b.start)
    return overlap > 0 and overlap * 2 >= b.end - b.start


def score_pii(samples: Sequence[Sample], analyze: object | None = None) -> PiiScores:
    """Run the pii detector (or `analyze(text, entities, min_score)`) over the samples."""
    if analyze is None:
        from supervisor.detectors.pii import shared_pii

        detector = shared_pii()
        detector.warm()
        analyze = detector.analyze
    ours = sorted(set(MAPPING.values()))
    gold_count: dict[str, int] = {}
    found: dict[str, int] = {}
    predicted: dict[str, int] = {}
    correct: dict[str, int] = {}
    latencies: list[float] = []
    for sample in samples:
        start = time.perf_counter()
        results = analyze(text=sample.text, entities=ours, min_score=MIN_SCORE)  # type: ignore[operator]
        latencies.append((time.perf_counter() - start) * 1000)
        preds = [Span(r.entity_type, r.start, r.end) for r in results]
        for gold in sample.spans:
            gold_count[gold.entity] = gold_count.get(gold.entity, 0) + 1
            mapped = MAPPING.get(gold.entity)
            if mapped and any(p.entity == mapped and _covers(p, gold) for p in preds):
                found[gold.entity] = found.get(gold.entity, 0) + 1
        for pred in preds:
            predicted[pred.entity] = predicted.get(pred.entity, 0) + 1
            if any(MAPPING.get(g.entity) == pred.entity and (_covers(pred, g) or _covers(g, pred))
                   for g in sample.spans):
                correct[pred.entity] = correct.get(pred.entity, 0) + 1
    rows = tuple(
        EntityScore(entity, MAPPING.get(entity), gold_count[entity], found.get(entity, 0),
                    predicted.get(MAPPING.get(entity, ""), 0),
                    correct.get(MAPPING.get(entity, ""), 0))
        for entity in sorted(gold_count, key=lambda e: -gold_count[e]))
    gold_target = sum(gold_count.get(e, 0) for e in TARGET)
    found_target = sum(found.get(e, 0) for e in TARGET)
    return PiiScores(rows, found_target / gold_target if gold_target else 0.0,
                     percentile(latencies, 50), percentile(latencies, 95), len(samples))


def table(scores: PiiScores) -> Iterable[str]:
    """Printable lines: one per entity, then the combined target recall."""
    yield f"{'entity':<18}{'ours':<14}{'gold':>6}{'recall':>8}{'precision':>11}"
    for e in scores.entities:
        precision = "-" if e.precision is None else f"{e.precision:.3f}"
        yield (f"{e.entity:<18}{e.ours or 'not detected':<14}{e.gold:>6}{e.recall:>8.3f}"
               f"{precision:>11}")
    yield (f"recall over {', '.join(TARGET)}: {scores.target_recall:.3f} "
           f"({scores.samples} samples, analyze p50 {scores.latency_p50_ms:.1f} ms)")
