"""The semantic detector, and the registry of its bound forms (one per constitution file)."""

from __future__ import annotations

import contextlib
import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import replace
from functools import lru_cache

import numpy as np

from supervisor.constitution import Constitution, Principle, SemanticCheck
from supervisor.decision import Finding
from supervisor.detectors.base import Findings
from supervisor.detectors.calibration import SUFFIX as CALIBRATION
from supervisor.detectors.calibration import Calibration
from supervisor.detectors.embedding import DIMENSIONS, Encoder, shared_encoder
from supervisor.detectors.exchange import SUFFIX as EXCHANGE_MODEL
from supervisor.detectors.exchange import ExchangeModel, Reading
from supervisor.detectors.exemplars import beside
from supervisor.detectors.semantic.index import ExemplarIndex
from supervisor.detectors.semantic.scoring import (
    Exchange,
    Features,
    Score,
    best,
    finding,
    spans,
)


class SemanticDetector:
    """Scores texts against each principle's exemplars (see the package docstring).

    Unbound (`index` None: an empty index), a principle is compared with its own
    examples only; `bind(constitution)` gives the detector of that constitution's index.
    """

    kind = "semantic"

    def __init__(self, encoder: Encoder | None = None, *,
                 index: ExemplarIndex | None = None) -> None:
        self.encoder = encoder or shared_encoder()
        self.index = index if index is not None else ExemplarIndex(self.encoder)

    @property
    def version(self) -> str:
        return f"semantic-3/{self.encoder.version}"

    @property
    def constitution(self) -> Constitution | None:
        """The constitution this detector is bound to (None when unbound)."""
        return self.index.constitution

    def bind(self, constitution: Constitution) -> SemanticDetector:
        """This encoder's detector for the constitution's exemplar files and calibration."""
        return BINDINGS.bound(self.encoder, constitution)

    def calibration(self) -> Calibration | None:
        """The calibration this detector scores with (None when unbound or not calibrated)."""
        return self.index.calibration

    def exchange_model(self) -> ExchangeModel | None:
        """The bound constitution's exchange model, if it has one for this encoder."""
        return self.index.exchange_model

    def calibration_sha256(self, constitution: Constitution) -> str | None:
        """sha256 of the calibration file used for `constitution` (for the decision's provenance).

        None unless this detector is bound to that constitution and at least one of its
        principles is scored by a head from the file.
        """
        bound, calibration = self.index.constitution, self.index.calibration
        if bound is None or bound.sha256 != constitution.sha256 or calibration is None:
            return None
        used = any(entry.head is not None for entry in self.index.entries.values())
        return calibration.sha256 if used else None

    def warm(self, principles: Sequence[Principle]) -> None:
        """Load the model and the principles' exemplar vectors now, not in the first request."""
        for principle in principles:
            check: SemanticCheck | None = principle.check("semantic")
            if check is not None:
                self.index.plan(principle, check.on)
        self.encoder.encode(["warm"])

    def scan(self, principles: Sequence[Principle], *, prompt: str, text: str) -> Findings:
        """Findings per principle whose semantic score reaches its threshold."""
        return self.scan_many(principles, [Exchange(prompt, text)])[0]

    def scan_many(self, principles: Sequence[Principle],
                  items: Sequence[Exchange]) -> list[Findings]:
        """`scan` for many texts, embedded together in batches."""
        results: list[Findings] = []
        for item, scores in zip(items, self.score_many(principles, items), strict=True):
            found: dict[str, tuple[Finding, ...]] = {}
            for score in scores.values():
                if score.fired:
                    found[score.principle] = (finding(score, item.text),)
            results.append(found)
        return results

    def score_many(self, principles: Sequence[Principle],
                   items: Sequence[Exchange]) -> list[dict[str, Score]]:
        """Every semantic principle's score for every item, whether it fired or not."""
        checked = [(p, c) for p in principles if (c := p.check("semantic")) is not None]
        plans = {on: spans(items, on) for on in {c.on for _, c in checked}}
        texts = [w.view for per_on in plans.values() for per_item in per_on for w in per_item]
        vectors = dict(zip(texts, self.encoder.encode(texts), strict=True)) if texts else {}
        out: list[dict[str, Score]] = [{} for _ in items]
        readings = self._readings(checked, items)
        for principle, check in checked:
            matrices, head = self.index.plan(principle, check.on)
            for row, windows in enumerate(plans[check.on]):
                block = np.stack([vectors[w.view] for w in windows])
                score = best(principle.id, check, head, block, matrices.margins(block), windows)
                reading = readings[row]
                if reading is not None and principle.applies_to == "output":
                    score = replace(score, gate=round(reading.serving, 6),
                                    gate_threshold=reading.exchange_threshold)
                out[row][principle.id] = score
        return out

    def _readings(self, checked: Sequence[tuple[Principle, SemanticCheck]],
                  items: Sequence[Exchange]) -> list[Reading | None]:
        """The exchange model's reading of each item that has a prompt, for the gate."""
        model = self.index.exchange_model
        if model is None or not any(p.applies_to == "output" for p, _ in checked):
            return [None] * len(items)
        return [model.read(self.encoder, item.prompt, item.text) if item.prompt.strip()
                else None for item in items]

    def features(self, principle: Principle, items: Sequence[Exchange], *,
                 exclude_self: bool = False) -> Features:
        """Embedding and margin of every window of each item: what a head is fitted on
        (`Features.nearest`) and what it scores (`Features.per_text`)."""
        check: SemanticCheck | None = principle.check("semantic")
        on = check.on if check is not None else "exchange"
        windows = spans(items, on)
        texts = [w.view for per_item in windows for w in per_item]
        if not texts:
            return Features(np.zeros((0, DIMENSIONS), np.float32), np.zeros(0, np.float32),
                            np.zeros(0, np.intp), 0)
        vectors = self.encoder.encode(texts)
        matrices, _ = self.index.plan(principle, on)
        margins = matrices.margins(vectors, exclude_self=exclude_self)
        owner = np.repeat(np.arange(len(windows), dtype=np.intp), [len(w) for w in windows])
        return Features(vectors, margins, owner, len(windows))


class Bindings:
    """Bound detectors by encoder and constitution file: the registry `bind` uses.

    A server's pipeline, `eval` and `calibrate` binding the same constitution share one
    detector and so one exemplar index; the index is made under the registry's lock, so
    concurrent first binds make it once. The key holds the constitution's sha256 and path
    and the calibration and exchange-model files beside it as they are now, so a bind
    after `calibrate` rewrote one gets an index that reads it. The least recently bound
    are let go past `limit` (`constitution test` binds one copy per example).
    """

    def __init__(self, limit: int = 32) -> None:
        self.limit = limit
        self._lock = threading.Lock()
        self._bound: OrderedDict[tuple[object, ...], SemanticDetector] = OrderedDict()

    def bound(self, encoder: Encoder, constitution: Constitution) -> SemanticDetector:
        """The detector bound to this constitution file, made on the first call."""
        key = (encoder, constitution.sha256, constitution.path, *_fitted(constitution))
        with self._lock:
            found = self._bound.get(key)
            if found is None:
                found = SemanticDetector(encoder, index=ExemplarIndex(encoder, constitution))
                self._bound[key] = found
                while len(self._bound) > self.limit:
                    self._bound.popitem(last=False)
            else:
                self._bound.move_to_end(key)
            return found


def _fitted(constitution: Constitution) -> list[tuple[str, int]]:
    """The calibration and exchange-model files the constitution would use, with mtimes."""
    found = []
    for suffix in (CALIBRATION, EXCHANGE_MODEL):
        for path in beside(constitution, suffix):
            with contextlib.suppress(OSError):  # gone since `beside` saw it: not used either
                found.append((str(path), path.stat().st_mtime_ns))
    return found


BINDINGS = Bindings()  # the process's registry of bound semantic detectors


@lru_cache(maxsize=1)
def shared_semantic() -> SemanticDetector:
    """The process-wide semantic detector; the model loads on the first text it scores."""
    return SemanticDetector(shared_encoder())
