"""What the semantic detector embeds and how a principle's score is read from it.

`view` is the text embedded for a check; `spans` cuts each item into windows (spans of
the text as given, views of its normal form); `best` turns one item's window margins
into a `Score`, the item's highest-scoring window; `Features` holds the same numbers
for many texts, for `calibrate` to fit a head on and to score as the detector does.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from supervisor.constitution import SemanticCheck
from supervisor.decision import Finding
from supervisor.detectors.calibration import Head
from supervisor.detectors.embedding import Vectors, windows
from supervisor.detectors.exchange import NUMBER
from supervisor.detectors.normal import normalise

PROMPT_CHARS = 400  # how much of the prompt goes in front of each window of an exchange
EVIDENCE_CHARS = 160


@dataclass(frozen=True, slots=True)
class Exchange:
    """One text to check, with the prompt it answers ("" when there is none)."""

    prompt: str
    text: str


@dataclass(frozen=True, slots=True)
class Window:
    """One window of an item: its span in the item's own text, and the view embedded."""

    start: int
    end: int
    view: str


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


def spans(items: Sequence[Exchange], on: str) -> list[list[Window]]:
    """Each item's windows, as a check with this `on` embeds them.

    The views are of the normal form (see `normal`: look-alike digits and dashes made
    plain, zero-width characters removed; ASCII text is unchanged), the spans of the
    text as given.
    """
    plan = []
    for item in items:
        folded, prompt = normalise(item.text), normalise(item.prompt).text
        found, offset = [], 0
        for part in windows(folded.text):  # never empty: "" is one window
            start = max(folded.text.find(part, offset) if part else 0, 0)
            offset = start + len(part)
            found.append(Window(*folded.span(start, offset), view(prompt, part, on)))
        plan.append(found)
    return plan


def best(principle: str, check: SemanticCheck, head: Head | None, block: Vectors,
         margins: npt.NDArray[np.float32], windows_: Sequence[Window]) -> Score:
    """The item's score: its highest-scoring window, by the head or the margin."""
    if head is not None:
        scores = head.score(block, margins)
        threshold = head.threshold
    else:
        scores = np.clip((1.0 + margins.astype(np.float64)) / 2.0, 0.0, 1.0)
        threshold = check.threshold
    worst = int(scores.argmax())
    window = windows_[worst]
    return Score(principle, round(float(scores[worst]), 6), threshold,
                 round(float(margins[worst]), 6), head is not None, window.start, window.end)


def finding(score: Score, text: str) -> Finding:
    """The finding a fired score reports, quoting its window of `text`."""
    quoted = text[score.start:score.end]
    if len(quoted) > EVIDENCE_CHARS:
        quoted = quoted[:EVIDENCE_CHARS].rstrip() + "…"
    return Finding(score.principle, "semantic", "similar-to-violating", score.start,
                   score.end, quoted, score.score)
