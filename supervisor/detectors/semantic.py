"""The `semantic` detector: how close a text comes to a principle's violating exemplars.

Each principle with a `semantic` check has exemplars (its examples plus an optional
file beside the constitution, see `exemplars`). A text is embedded once, whatever the
number of principles, and for each principle its *margin* is the cosine similarity to
the nearest violating exemplar minus that to the nearest compliant one: a text that
looks like the violations more than like the look-alike compliant answers scores high.

    uncalibrated:  score = (1 + margin) / 2            fires at the check's `threshold`
    calibrated:    score = sigmoid(w . e + a * margin + b)   fires at the fitted threshold

The calibrated form comes from `supervisor calibrate` (see `calibration`), fitted on a
training split of labelled data. The check's `on` chooses what is embedded: the answer
alone (`output`) or the prompt and answer together (`exchange`, the default; the same
text as `output` when there is no prompt). A long text is cut into windows and scores
as its highest-scoring window, so harm at the end of a long answer is not cut off.
Texts are read in their normal form (`normal`), with spans reported on the original.

With a prompt, and an exchange model beside the constitution (`exchange`), an output
principle's score fires only when the exchange also reads as compliance with a harmful
request (`Score.gate`): the head says which harm the answer is about, the exchange model
whether it serves one. A refusal or a definition on a violent topic is not violence.

`shared_semantic()` is the process-wide detector (the model loads on first use);
`bind(constitution)` gives the same detector with the constitution's exemplar files and
calibration, which the pipeline should use. Leave-one-out needs no extra argument:
exemplars are taken from the principle object passed in, so a principle copied without
one example (as `constitution test` does) is never matched against that example.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass, replace
from functools import lru_cache
from typing import Any

import numpy as np
import numpy.typing as npt

from supervisor.constitution import Constitution, Principle, SemanticCheck
from supervisor.decision import Finding
from supervisor.detectors import Findings
from supervisor.detectors.calibration import Calibration, Head, find_calibration
from supervisor.detectors.embedding import (
    DIMENSIONS,
    Encoder,
    Vectors,
    shared_encoder,
    windows,
)
from supervisor.detectors.exchange import NUMBER, ExchangeModel, Reading, find_model
from supervisor.detectors.exemplars import Exemplar, exemplars_for
from supervisor.detectors.normal import normalise

PROMPT_CHARS = 400  # how much of the prompt goes in front of each window of an exchange
EVIDENCE_CHARS = 160
SELF = 0.9999  # cosine similarity above which two texts are taken to be the same text


@dataclass(frozen=True, slots=True)
class Exchange:
    """One text to check, with the prompt it answers ("" when there is none)."""

    prompt: str
    text: str


@dataclass(frozen=True, slots=True)
class Score:
    """A principle's semantic score for one text, and what it was compared with."""

    principle: str
    score: float
    threshold: float
    margin: float
    calibrated: bool
    start: int = 0
    end: int = 0
    # with a prompt, the exchange model's reading of it (see `exchange`): a harm principle
    # is broken by compliance with a harmful request, not by a refusal on its topic
    gate: float | None = None
    gate_threshold: float = 0.0

    @property
    def fired(self) -> bool:
        open_gate = self.gate is None or self.gate >= self.gate_threshold
        return self.score >= self.threshold and open_gate


@dataclass(frozen=True, slots=True)
class Features:
    """Every window's embedding and exemplar margin, for `texts` texts: what a head reads.

    Row k is a window of text `owner[k]`. A head is fitted on one row per text, the
    window most like the violating exemplars (`nearest`); a text scores as its
    highest-scoring window (`per_text`), as `score_many` serves it, so what calibration
    measures is what the detector does on long texts too.
    """

    vectors: Vectors
    margins: npt.NDArray[np.float32]
    owner: npt.NDArray[np.intp]
    texts: int

    def nearest(self) -> Features:
        """One row per text: its window nearest the violating exemplars (highest margin)."""
        order = np.lexsort((-self.margins, self.owner))
        first = order[np.r_[True, self.owner[order][1:] != self.owner[order][:-1]]]
        return Features(self.vectors[first], self.margins[first],
                        np.arange(self.texts, dtype=np.intp), self.texts)

    def per_text(self, scores: npt.NDArray[np.floating[Any]]) -> npt.NDArray[np.float64]:
        """Each text's highest score among its windows' `scores`."""
        out = np.full(self.texts, -np.inf)
        np.maximum.at(out, self.owner, scores)
        return out

    def then(self, other: Features) -> Features:
        """These texts followed by `other`'s."""
        return Features(np.vstack([self.vectors, other.vectors]),
                        np.concatenate([self.margins, other.margins]),
                        np.concatenate([self.owner, other.owner + self.texts]),
                        self.texts + other.texts)


def view(prompt: str, text: str, on: str) -> str:
    """The text embedded for a check: the answer, or prompt and answer for `exchange`."""
    prompt = prompt.strip()
    text = NUMBER.sub("<NUMBER>", text)
    if on == "output" or not prompt:
        return text
    return f"{NUMBER.sub('<NUMBER>', prompt[:PROMPT_CHARS])}\n\n{text}"


class _Matrices:
    """A principle's exemplars as two matrices of unit vectors (violating, compliant)."""

    def __init__(self, violating: Vectors, compliant: Vectors) -> None:
        self.violating = violating
        self.compliant = compliant

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


class SemanticDetector:
    """Scores texts against each principle's exemplars; see the module docstring."""

    kind = "semantic"

    def __init__(self, encoder: Encoder | None = None, *,
                 constitution: Constitution | None = None,
                 _shared: dict[object, object] | None = None,
                 _building: threading.Lock | None = None) -> None:
        self.encoder = encoder or shared_encoder()
        self.constitution = constitution
        self._shared: dict[object, object] = {} if _shared is None else _shared
        self._lock = threading.Lock()
        # one build of exemplar matrices at a time, shared with every bound detector: on a
        # cold server, sixteen first requests would otherwise each embed every exemplar
        self._building = _building or threading.Lock()
        self._calibration: Calibration | bool | None = False  # False: not looked up yet
        self._exchange: ExchangeModel | bool | None = False  # the same
        # (id(principle), on) -> (principle, matrices, head): see `_plan`
        self._plans: dict[tuple[int, str], tuple[Principle, _Matrices, Head | None]] = {}

    @property
    def version(self) -> str:
        return f"semantic-3/{self.encoder.version}"

    # -- binding to a constitution --------------------------------------------------

    def bind(self, constitution: Constitution) -> SemanticDetector:
        """This detector with the constitution's exemplar files and calibration."""
        key = ("bound", constitution.sha256, constitution.path)
        with self._lock:
            bound = self._shared.get(key)
            if not isinstance(bound, SemanticDetector):
                bound = SemanticDetector(self.encoder, constitution=constitution,
                                         _shared=self._shared, _building=self._building)
                self._shared[key] = bound
        return bound

    def calibration(self) -> Calibration | None:
        """The calibration this detector scores with (None when unbound or not calibrated)."""
        if self._calibration is False:
            self._calibration = (find_calibration(self.constitution, self.encoder.version)
                                 if self.constitution is not None else None)
        return self._calibration if isinstance(self._calibration, Calibration) else None

    def calibration_sha256(self, constitution: Constitution) -> str | None:
        """sha256 of the calibration file used for `constitution` (for the decision's provenance).

        None unless this detector is bound to that constitution and at least one of its
        principles is scored by a head from the file.
        """
        if self.constitution is None or self.constitution.sha256 != constitution.sha256:
            return None
        calibration = self.calibration()
        if calibration is None:
            return None
        used = any(calibration.head_for(p) for p in constitution.principles
                   if p.check("semantic") is not None)
        return calibration.sha256 if used else None

    def warm(self, principles: Sequence[Principle]) -> None:
        """Load the model and embed the principles' exemplars now, not in the first request.

        Embedding a few hundred exemplars takes seconds on two cores; a server should
        call this at start-up so the first supervision does not pay for it.
        """
        for principle in principles:
            check: SemanticCheck | None = principle.check("semantic")
            if check is not None:
                self._matrices(principle, check.on)
        self.encoder.encode(["warm"])

    # -- scanning --------------------------------------------------------------------

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
                    found[score.principle] = (_finding(score, item.text),)
            results.append(found)
        return results

    def score_many(self, principles: Sequence[Principle],
                   items: Sequence[Exchange]) -> list[dict[str, Score]]:
        """Every semantic principle's score for every item, whether it fired or not."""
        checked = [(p, c) for p in principles if (c := p.check("semantic")) is not None]
        plans = {on: self._windows(items, on) for on in {c.on for _, c in checked}}
        texts = [t for spans in plans.values() for per_item in spans for _, _, t in per_item]
        vectors = dict(zip(texts, self.encoder.encode(texts), strict=True)) if texts else {}
        out: list[dict[str, Score]] = [{} for _ in items]
        readings = self._readings(checked, items)
        for principle, check in checked:
            matrices, head = self._plan(principle, check.on)
            for row, spans in enumerate(plans[check.on]):
                block = np.stack([vectors[t] for _, _, t in spans])
                score = _best(principle.id, check, head, block, matrices.margins(block), spans)
                reading = readings[row]
                if reading is not None and principle.applies_to == "output":
                    score = replace(score, gate=round(reading.serving, 6),
                                    gate_threshold=reading.exchange_threshold)
                out[row][principle.id] = score
        return out

    def _readings(self, checked: Sequence[tuple[Principle, SemanticCheck]],
                  items: Sequence[Exchange]) -> list[Reading | None]:
        """The exchange model's reading of each item that has a prompt, for the gate."""
        model = self.exchange_model()
        if model is None or not any(p.applies_to == "output" for p, _ in checked):
            return [None] * len(items)
        return [model.read(self.encoder, item.prompt, item.text) if item.prompt.strip()
                else None for item in items]

    def exchange_model(self) -> ExchangeModel | None:
        """The bound constitution's exchange model, if it has one for this encoder."""
        if self._exchange is False:
            self._exchange = (find_model(self.constitution, self.encoder.version)
                              if self.constitution is not None else None)
        return self._exchange if isinstance(self._exchange, ExchangeModel) else None

    def features(self, principle: Principle, items: Sequence[Exchange], *,
                 exclude_self: bool = False) -> Features:
        """Embedding and margin of every window of each item: what a head is fitted on
        (`Features.nearest`) and what it scores (`Features.per_text`)."""
        check: SemanticCheck | None = principle.check("semantic")
        on = check.on if check is not None else "exchange"
        spans = self._windows(items, on)
        texts = [t for per_item in spans for _, _, t in per_item]
        if not texts:
            return Features(np.zeros((0, DIMENSIONS), np.float32), np.zeros(0, np.float32),
                            np.zeros(0, np.intp), 0)
        vectors = self.encoder.encode(texts)
        margins = self._matrices(principle, on).margins(vectors, exclude_self=exclude_self)
        owner = np.repeat(np.arange(len(spans), dtype=np.intp), [len(s) for s in spans])
        return Features(vectors, margins, owner, len(spans))

    # -- internals -------------------------------------------------------------------

    def _windows(self, items: Sequence[Exchange], on: str
                 ) -> list[list[tuple[int, int, str]]]:
        """Each item's windows: (start, end) in the item's own text, and the view embedded.

        The views are of the normal form (see `normal`: look-alike digits and dashes made
        plain, zero-width characters removed; ASCII text is unchanged), the spans of the
        text as given.
        """
        plan = []
        for item in items:
            folded, prompt = normalise(item.text), normalise(item.prompt).text
            spans, offset = [], 0
            for part in windows(folded.text):  # never empty: "" is one window
                start = folded.text.find(part, offset) if part else 0
                start = max(start, 0)
                offset = start + len(part)
                spans.append((*folded.span(start, offset), view(prompt, part, on)))
            plan.append(spans)
        return plan

    def _plan(self, principle: Principle, on: str) -> tuple[_Matrices, Head | None]:
        """The principle's exemplar matrices and head, found once per principle object.

        Finding them means looking for its exemplar file beside the constitution, reading
        it and hashing the principle for its head: about 2.5 ms per answer for base's
        eight principles, paid on every scan before this. A loaded constitution keeps its
        principle objects, so a server finds them on its first request; an edited
        exemplar file is read on restart, as the calibration fitted on it is. A copy of a
        principle (`constitution test` leaves one example out) is a new object and is
        looked up afresh.
        """
        key = (id(principle), on)
        found = self._plans.get(key)
        # the entry holds the principle, so its id cannot pass to another object meanwhile
        if found is not None and found[0] is principle:
            return found[1], found[2]
        calibration = self.calibration()
        plan = (principle, self._matrices(principle, on),
                calibration.head_for(principle) if calibration else None)
        with self._lock:
            self._plans[key] = plan
            while len(self._plans) > 512:  # copies made by leave-one-out runs
                del self._plans[next(iter(self._plans))]
        return plan[1], plan[2]

    def _matrices(self, principle: Principle, on: str) -> _Matrices:
        exemplars = exemplars_for(principle, self.constitution)
        key = ("matrices", on, tuple((e.prompt, e.output, e.violated) for e in exemplars))
        cached = self._shared.get(key)
        if isinstance(cached, _Matrices):
            return cached
        with self._building:  # whoever waited here finds the matrices the first one built
            cached = self._shared.get(key)
            if isinstance(cached, _Matrices):
                return cached
            matrices = _Matrices(self._encode(exemplars, on, violated=True),
                                 self._encode(exemplars, on, violated=False))
            with self._lock:
                self._shared[key] = matrices
                _trim(self._shared)
        return matrices

    def _encode(self, exemplars: Sequence[Exemplar], on: str, *, violated: bool) -> Vectors:
        texts = [view(e.prompt, e.output, on) for e in exemplars if e.violated is violated]
        if not texts:  # the schema requires both kinds; an empty side never wins
            return np.zeros((1, DIMENSIONS), dtype=np.float32)
        return self.encoder.encode(texts)


def _best(principle: str, check: SemanticCheck, head: Head | None, block: Vectors,
          margins: npt.NDArray[np.float32], spans: Sequence[tuple[int, int, str]]) -> Score:
    if head is not None:
        scores = head.score(block, margins)
        threshold = head.threshold
    else:
        scores = np.clip((1.0 + margins.astype(np.float64)) / 2.0, 0.0, 1.0)
        threshold = check.threshold
    worst = int(scores.argmax())
    start, end, _ = spans[worst]
    return Score(principle, round(float(scores[worst]), 6), threshold,
                 round(float(margins[worst]), 6), head is not None, start, end)


def _finding(score: Score, text: str) -> Finding:
    quoted = text[score.start:score.end]
    if len(quoted) > EVIDENCE_CHARS:
        quoted = quoted[:EVIDENCE_CHARS].rstrip() + "…"
    return Finding(score.principle, "semantic", "similar-to-violating", score.start,
                   score.end, quoted, score.score)


def _trim(cache: dict[object, object], limit: int = 512) -> None:
    matrices = [k for k in cache if isinstance(k, tuple) and k and k[0] == "matrices"]
    for key in matrices[: max(0, len(matrices) - limit)]:
        del cache[key]


@lru_cache(maxsize=1)
def shared_semantic() -> SemanticDetector:
    """The process-wide semantic detector; the model loads on the first text it scores."""
    return SemanticDetector(shared_encoder())

