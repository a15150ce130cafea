"""The exemplar index: what a bound semantic detector compares texts with, made at bind.

For each principle of the constitution with a `semantic` check it holds the principle's
exemplars (its examples, then its file beside the constitution), their views as the
check embeds them and the calibrated head; the constitution's calibration and exchange
model are looked up once, here. The exemplar vectors are filled in on first use (`warm`
at start-up, or the first scan) under one lock, so concurrent first requests build them
once: read from the vector store when it has them (see `store`), else embedded and
stored.

Any other principle (a copy without one of its examples, as `constitution test` makes;
whatever an unbound detector is given) gets matrices built on demand from its own
exemplars, through the encoder, whose text cache already holds the indexed vectors.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from supervisor.constitution import Constitution, Principle, SemanticCheck
from supervisor.detectors.calibration import Calibration, Head, find_calibration
from supervisor.detectors.embedding import DIMENSIONS, Encoder, Vectors
from supervisor.detectors.exchange import ExchangeModel, find_model
from supervisor.detectors.exemplars import Exemplar, exemplars_for
from supervisor.detectors.semantic.scoring import view
from supervisor.detectors.semantic.store import Sides, VectorStore

SELF = 0.9999  # cosine similarity above which two texts are taken to be the same text
ON_DEMAND = 32  # matrices kept for principles outside the index (leave-one-out copies)


@dataclass(frozen=True, slots=True)
class Matrices:
    """A principle's exemplars as two matrices of unit vectors (violating, compliant)."""

    violating: Vectors
    compliant: Vectors

    def margins(self, vectors: Vectors, *, exclude_self: bool = False
                ) -> npt.NDArray[np.float32]:
        """Nearest violating minus nearest compliant similarity, per row of `vectors`.

        `exclude_self` ignores an exemplar identical to the row (similarity ~1), for
        fitting a head on exemplars without each one matching itself.
        """
        bad, good = vectors @ self.violating.T, vectors @ self.compliant.T
        if exclude_self:
            bad = np.where(bad > SELF, -1.0, bad)
            good = np.where(good > SELF, -1.0, good)
        return np.asarray(bad.max(axis=1) - good.max(axis=1), dtype=np.float32)


@dataclass(frozen=True, slots=True)
class Entry:
    """One indexed principle: its exemplars' views as embedded and its head."""

    principle: Principle
    on: str
    sides: Sides
    head: Head | None


def sides_of(exemplars: Sequence[Exemplar], on: str) -> Sides:
    """The exemplars' views for a check with this `on`, violating and compliant apart."""
    return Sides(tuple(view(e.prompt, e.output, on) for e in exemplars if e.violated),
                 tuple(view(e.prompt, e.output, on) for e in exemplars if not e.violated))


class ExemplarIndex:
    """Exemplar matrices and heads for one constitution (none: an unbound detector's)."""

    def __init__(self, encoder: Encoder, constitution: Constitution | None = None, *,
                 store: VectorStore | None = None) -> None:
        self.encoder = encoder
        self.constitution = constitution
        self.store = store if store is not None else VectorStore()
        self.calibration: Calibration | None = None
        self.exchange_model: ExchangeModel | None = None
        self.entries: dict[str, Entry] = {}
        if constitution is not None:
            self.calibration = find_calibration(constitution, encoder.version)
            self.exchange_model = find_model(constitution, encoder.version)
            for principle in constitution.principles:
                check: SemanticCheck | None = principle.check("semantic")
                if check is not None:
                    self.entries[principle.id] = self._entry(principle, check.on)
        self._built: dict[str, Matrices] = {}  # by principle id
        self._on_demand: OrderedDict[str, Matrices] = OrderedDict()  # by Sides key
        self._lock = threading.Lock()  # guards the two dicts
        self._building = threading.Lock()  # one build at a time: the first one's is reused

    def _entry(self, principle: Principle, on: str) -> Entry:
        head = self.calibration.head_for(principle) if self.calibration else None
        return Entry(principle, on, sides_of(exemplars_for(principle, self.constitution), on),
                     head)

    def indexed(self, principle: Principle, on: str) -> Entry | None:
        """The principle's entry, if this very principle (or an equal one) was indexed."""
        entry = self.entries.get(principle.id)
        if entry is None or entry.on != on:
            return None
        return entry if entry.principle is principle or entry.principle == principle else None

    def plan(self, principle: Principle, on: str) -> tuple[Matrices, Head | None]:
        """The matrices and head a principle's texts are scored with."""
        entry = self.indexed(principle, on)
        if entry is not None:
            return self.matrices(entry), entry.head
        head = self.calibration.head_for(principle) if self.calibration else None
        return self._on_demand_matrices(principle, on), head

    def matrices(self, entry: Entry) -> Matrices:
        """An indexed principle's matrices: built once, from the store when it has them."""
        pid = entry.principle.id
        found = self._built.get(pid)
        if found is not None:
            return found
        with self._building:
            found = self._built.get(pid)
            if found is None:
                found = self._load_or_embed(entry.sides, entry.on)
                with self._lock:
                    self._built[pid] = found
        return found

    def _load_or_embed(self, sides: Sides, on: str) -> Matrices:
        key = sides.key(self.encoder.version, on)
        stored = self.store.load(key, sides)
        if stored is not None:
            # leave-one-out copies of this principle then embed nothing either
            for texts, vectors in zip((sides.violating, sides.compliant), stored, strict=True):
                if texts:
                    self.encoder.remember(texts, vectors)
            return Matrices(*stored)
        matrices = self._embed(sides)
        self.store.save(key, matrices.violating, matrices.compliant)
        return matrices

    def _on_demand_matrices(self, principle: Principle, on: str) -> Matrices:
        entry = self.entries.get(principle.id)
        if entry is not None and entry.on == on:
            self.matrices(entry)  # its vectors, into the encoder's cache for this copy
        sides = sides_of(exemplars_for(principle, self.constitution), on)
        key = sides.key(self.encoder.version, on)
        with self._lock:
            found = self._on_demand.get(key)
            if found is not None:
                self._on_demand.move_to_end(key)
                return found
        with self._building:
            found = self._on_demand.get(key)
            if found is None:
                found = self._embed(sides)
                with self._lock:
                    self._on_demand[key] = found
                    while len(self._on_demand) > ON_DEMAND:
                        self._on_demand.popitem(last=False)
        return found

    def _embed(self, sides: Sides) -> Matrices:
        return Matrices(self._encode(sides.violating), self._encode(sides.compliant))

    def _encode(self, texts: Sequence[str]) -> Vectors:
        if not texts:  # the schema requires both kinds; an empty side never wins
            return np.zeros((1, DIMENSIONS), dtype=np.float32)
        return self.encoder.encode(list(texts))
