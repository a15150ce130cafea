"""PII detection scored on labelled spans (the presidio-synth set): per-entity P/R.

A gold span is found when a prediction of its mapped type covers at least half of it; a
prediction is correct when it covers at least half of a gold span of its type (or the
gold span covers half of it). Dataset types map to ours where a recognizer exists
(STREET_ADDRESS and GPE -> LOCATION, DOMAIN_NAME -> URL); ORGANIZATION, TITLE, AGE and
ZIP_CODE have no recognizer and are reported as not detected, never dropped silently.

`obfuscated` rewrites the numeric identifiers of the target types the way people get
them past a filter (look-alike dashes, other separators, no separators, spaced digits)
and moves every span to its new offsets, so recall can be read on both forms. `folds`
splits the set by template (the generator's sentence pattern), so choices made while
reading one fold's misses are checked on sentences never read.
"""

from __future__ import annotations

import json
import random
import re
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from supervisor.evaluation.datasets import resolve_root
from supervisor.evaluation.metrics import percentile

if TYPE_CHECKING:
    from presidio_analyzer import RecognizerResult

MAPPING = {
    "PERSON": "PERSON", "CREDIT_CARD": "CREDIT_CARD", "EMAIL_ADDRESS": "EMAIL_ADDRESS",
    "PHONE_NUMBER": "PHONE_NUMBER", "US_SSN": "US_SSN", "IBAN_CODE": "IBAN_CODE",
    "IP_ADDRESS": "IP_ADDRESS", "US_DRIVER_LICENSE": "US_DRIVER_LICENSE",
    "DATE_TIME": "DATE_TIME", "NRP": "NRP", "STREET_ADDRESS": "LOCATION", "GPE": "LOCATION",
    "DOMAIN_NAME": "URL",
}
TARGET = ("PERSON", "CREDIT_CARD", "EMAIL_ADDRESS", "PHONE_NUMBER", "US_SSN", "IBAN_CODE")
MIN_SCORE = 0.4
# numeric identifiers whose separators `obfuscated` rewrites
NUMERIC = ("CREDIT_CARD", "PHONE_NUMBER", "US_SSN", "IBAN_CODE")
_SEPARATOR = re.compile(r"[ .\-/]+")
_LOOKALIKE_DASHES = ("\u2010", "\u2011", "\u2012", "\u2013", "\u2014", "\u2212",
                     "\ufe63", "\uff0d")
OBFUSCATIONS = ("dashes", "spaces", "dots", "joined", "spaced", "mixed")


@dataclass(frozen=True, slots=True)
class Span:
    entity: str
    start: int
    end: int


@dataclass(frozen=True, slots=True)
class Sample:
    text: str
    spans: tuple[Span, ...]
    template: int = -1


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
        Span(s["entity_type"], s["start_position"], s["end_position"]) for s in item["spans"]),
        int(item.get("template_id", -1)))
        for item in raw]
    return samples[:limit] if limit else samples


def folds(samples: Sequence[Sample], count: int = 2) -> list[list[Sample]]:
    """`count` parts of the samples, each holding whole templates (template id modulo
    `count`), so no sentence pattern is in two parts."""
    if count < 2:
        raise ValueError(f"folds needs a count of 2 or more (got {count})")
    parts: list[list[Sample]] = [[] for _ in range(count)]
    for sample in samples:
        parts[sample.template % count].append(sample)
    return parts


def obfuscate_identifier(value: str, style: str, rng: random.Random) -> str:
    """`value` (a card, phone, SSN or IBAN as written) with its separators rewritten.

    dashes: each separator a look-alike dash; spaces: one or two spaces; dots: a dot;
    joined: no separator; spaced: a space between every two digits and " - " for each
    separator; mixed: each separator drawn from all of these. A value written without
    separators is first cut in groups of four, as cards and IBANs are printed.
    """
    if style != "joined" and not _SEPARATOR.search(value):
        value = "-".join(value[i:i + 4] for i in range(0, len(value), 4))
    if style == "spaced":
        groups = [re.sub(r"(?<=\d)(?=\d)", " ", g) for g in _SEPARATOR.split(value)]
        return " - ".join(groups)
    choices = {
        "dashes": _LOOKALIKE_DASHES, "spaces": (" ", "  "), "dots": (".",), "joined": ("",),
        "mixed": ("-", " ", ".", "", "  ", " - ", *_LOOKALIKE_DASHES[:4]),
    }.get(style)
    if choices is None:
        raise ValueError(f"unknown obfuscation {style!r}; use one of {', '.join(OBFUSCATIONS)}")
    return _SEPARATOR.sub(lambda _: rng.choice(choices), value)


def obfuscated(samples: Sequence[Sample], seed: int = 19) -> list[Sample]:
    """The samples with every NUMERIC span rewritten by `obfuscate_identifier` (a style
    drawn per span from a generator seeded per sample), and all spans moved to match."""
    out = []
    for index, sample in enumerate(samples):
        rng = random.Random(seed * 100_003 + index)
        text, spans = sample.text, list(sample.spans)
        for target in sorted((s for s in spans if s.entity in NUMERIC),
                             key=lambda s: -s.start):
            if target not in spans:
                continue  # a duplicate span already rewritten
            old = text[target.start:target.end]
            new = obfuscate_identifier(old, rng.choice(OBFUSCATIONS), rng)
            shift = len(new) - len(old)
            text = text[:target.start] + new + text[target.end:]
            spans = [_moved(s, target, shift) for s in spans]
        out.append(Sample(text, tuple(spans), sample.template))
    return out


def _moved(span: Span, changed: Span, shift: int) -> Span:
    """`span` after `changed` grew by `shift` characters (an overlapping span stretches)."""
    if span.start >= changed.end:
        return Span(span.entity, span.start + shift, span.end + shift)
    if span.end >= changed.end:
        return Span(span.entity, span.start, span.end + shift)
    return span


def _covers(a: Span, b: Span) -> bool:
    """Whether `a` overlaps at least half of `b`."""
    overlap = min(a.end, b.end) - max(a.start, b.start)
    return overlap > 0 and overlap * 2 >= b.end - b.start


def score_pii(samples: Sequence[Sample],
              analyze: Callable[..., Sequence[RecognizerResult]] | None = None) -> PiiScores:
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
        results = analyze(text=sample.text, entities=ours, min_score=MIN_SCORE)
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
