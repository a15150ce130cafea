"""Which words a text uses, weighted by how rare they are (TF-IDF over words and word pairs).

The exchange model reads an answer's embedding, which says what the answer is about; the
words say how it is written: "Sure, here is", "Step 1:", "I cannot", "as an AI". Both
heads of `exchange` may carry a term view beside the embedding (see `Terms`), fitted by
`supervisor fit-exchange` from the same folds. The weighting is computed here, not by a
library, so that fitting and serving read a text in exactly one way:

    term weight = (1 + ln count) * idf,   idf = ln((1 + n) / (1 + df)) + 1,
    and the text's vector scaled to unit length.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from itertools import pairwise
from typing import Any

import numpy as np
import numpy.typing as npt

from supervisor.detectors.normal import normalise

WORD = re.compile(r"\b\w\w+\b")  # words of two or more letters or digits
PARTS = ("opening", "answer", "prompt")  # the texts of an exchange a term view can read


def terms(text: str) -> list[str]:
    """The text's words (lower case, normal form) and each pair of neighbouring words."""
    words = WORD.findall(normalise(text).text.lower())
    return [*words, *(f"{a} {b}" for a, b in pairwise(words))]


@dataclass(frozen=True, slots=True)
class Vocabulary:
    """The terms a view knows (`names`, position = column), each with its idf."""

    names: tuple[str, ...]
    idf: npt.NDArray[np.float64]
    index: dict[str, int]

    @classmethod
    def of(cls, names: Sequence[str], idf: npt.NDArray[np.float64]) -> Vocabulary:
        if len(names) != len(idf) or len(set(names)) != len(names):
            raise ValueError("a vocabulary needs one idf per distinct term")
        return cls(tuple(names), idf, {t: i for i, t in enumerate(names)})

    def vector(self, text: str) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.float64]]:
        """The text's unit TF-IDF vector, sparse: (term positions, values)."""
        counts = Counter(t for t in terms(text) if t in self.index)
        if not counts:
            return np.zeros(0, dtype=np.intp), np.zeros(0)
        positions = np.fromiter((self.index[t] for t in counts), dtype=np.intp,
                                count=len(counts))
        values = np.fromiter((1.0 + math.log(c) for c in counts.values()), dtype=np.float64,
                             count=len(counts)) * self.idf[positions]
        return positions, values / float(np.linalg.norm(values))

    def to_json(self) -> dict[str, Any]:
        return {"terms": list(self.names), "idf": [round(float(v), 6) for v in self.idf]}

    @classmethod
    def from_json(cls, entry: dict[str, Any]) -> Vocabulary:
        return cls.of([str(t) for t in entry["terms"]],
                      np.asarray([float(v) for v in entry["idf"]], dtype=np.float64))


def fit_vocabulary(texts: Iterable[str], *, min_count: int = 3,
                   size: int = 2000) -> Vocabulary:
    """The `size` terms found in the most texts (each in at least `min_count` of them)."""
    listed = list(texts)
    found = Counter(t for text in listed for t in set(terms(text)))
    kept = sorted((t for t, n in found.items() if n >= min_count),
                  key=lambda t: (-found[t], t))[:size]
    idf = np.array([math.log((1 + len(listed)) / (1 + found[t])) + 1.0 for t in kept])
    return Vocabulary.of(kept, idf)


@dataclass(frozen=True, slots=True)
class Terms:
    """One term view of a head: which text of the exchange it reads (`part`: the answer's
    opening, the whole answer or the prompt), its vocabulary and term weights."""

    part: str
    vocabulary: Vocabulary
    weights: npt.NDArray[np.float64]

    def contributions(self, text: str) -> dict[str, float]:
        """Each known term of the text with what it adds to the head's logit."""
        positions, values = self.vocabulary.vector(text)
        names = self.vocabulary.names
        return {names[p]: float(v * self.weights[p])
                for p, v in zip(positions, values, strict=True)}

    def to_json(self) -> dict[str, Any]:
        return {"part": self.part, **self.vocabulary.to_json(),
                "weights": [round(float(w), 8) for w in self.weights]}

    @classmethod
    def from_json(cls, entry: dict[str, Any]) -> Terms:
        part = str(entry["part"])
        if part not in PARTS:
            raise ValueError(f"a term view reads one of {PARTS}, not {part!r}")
        vocabulary = Vocabulary.from_json(entry)
        weights = np.asarray([float(w) for w in entry["weights"]], dtype=np.float64)
        if len(weights) != len(vocabulary.idf) or not np.isfinite(weights).all():
            raise ValueError("a term view needs one finite weight per term")
        return cls(part, vocabulary, weights)


def matrix(vocabulary: Vocabulary, texts: Sequence[str]) -> Any:
    """The texts' vectors as a sparse matrix (rows: texts), for fitting."""
    from scipy.sparse import csr_matrix

    rows, cols, values = [], [], []
    for row, text in enumerate(texts):
        positions, found = vocabulary.vector(text)
        rows.extend([row] * len(positions))
        cols.extend(positions.tolist())
        values.extend(found.tolist())
    return csr_matrix((values, (rows, cols)), shape=(len(texts), len(vocabulary.idf)))
