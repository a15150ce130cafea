"""Fit the semantic detector's heads on a training split; report on the held-out split.

For each principle with a `semantic` check, a logistic regression (scikit-learn, L2,
balanced classes) reads the text's embedding and its exemplar margin. Its training rows:

- the training split of every dataset given, where the item is labelled for the
  principle (see `datasets` for the per-principle labels of each adapter); an item
  that violates another principle is not used as a negative, because harms overlap
  (a threat is violence and harassment) and their labels are not given consistently;
  a safe item is a negative for every principle in every adapter, so a principle the
  moderation set has no category for (privacy) still learns what ordinary text looks
  like (with base 1.2.0 this raised the training F1 of any principle fired from 0.746
  to 0.770);
- binary-only positives (an XSTest unsafe prompt says it is harmful, not which harm):
  assigned to the principle whose exemplars they resemble most (highest margin);
- the lines of the principle's exemplar file, each compared with the other exemplars
  only, and the compliant lines of every other principle's file: a look-alike written
  for one harm ("kill a mosquito") is safe under all of them, while the moderation set
  has almost no safe text that uses a harm's words. The constitution's own `examples`
  are never training rows, so `constitution test` still tests something the head has
  not seen.

The L2 strength, the scale of the margin feature and the threshold are those with the
best F1 on 5-fold cross-validated scores of the training rows (a threshold picked on
fitted scores would be optimistic). A text longer than one window is a row by its window
most like the violating exemplars, but is scored, here as in the detector, by its
highest-scoring window, so every figure below is the served detector's (with base
1.2.0 and the former 3 x 3 grid below, scoring the fitted window instead gave a
moderation training F1 of 0.781, against 0.786 as served); then one offset shared by
every head's threshold is tuned for the F1 of "any principle fired" on the training
items and on the exemplar files' lines, a set of their own (see `_joint_thresholds`
and `_authored`). The test split is only scored, never fitted on, and its figures are
written beside the heads.
"""

from __future__ import annotations

import hashlib
import itertools
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from supervisor.constitution import Constitution, Principle
from supervisor.detectors.calibration import FORMAT, Head, calibration_path, fingerprint
from supervisor.detectors.exemplars import Exemplar, exemplar_file, read_exemplars
from supervisor.detectors.semantic import Exchange, Features, SemanticDetector
from supervisor.evaluation.datasets import TRAIN_PERCENT, Dataset, Item
from supervisor.evaluation.metrics import Confusion

MIN_EACH = 5  # fewer positives or negatives than this: no head, the YAML threshold stays
# The margin is one feature beside 384 embedding dimensions under the same L2 penalty;
# scaling it up lets a head lean on its exemplars without the penalty shrinking it away.
# Each head takes the pair with the best cross-validated F1. With base 1.2.0, the heads
# this grid chose beat those of the former 3 x 3 grid (0.3-3, 1-50) on the folds of
# three other seeds, so not by having more to choose from: any-principle F1 +0.007,
# +0.001, +0.001 (the exemplar lines +0.003 to +0.005, moderation -0.002 to +0.011).
STRENGTHS = (0.1, 0.3, 1.0, 3.0, 10.0)
SCALES = (0.3, 1.0, 3.0, 10.0, 50.0)
AUTHORED = "exemplars"  # the exemplar files' lines, a set of their own in the joint tuning


@dataclass(frozen=True, slots=True)
class PrincipleFit:
    """The head fitted for one principle (or why none was), with its held-out figures."""

    principle: str
    head: Head | None
    train_rows: int
    train_positives: int
    holdout: Confusion = field(default_factory=Confusion)
    reason: str = ""
    cv_f1: float = 0.0  # F1 of out-of-fold scores on the training rows: what chose the head

    def to_json(self) -> dict[str, Any]:
        """The figures of the fit, for the calibration file and `calibrate --json`."""
        return {"train_rows": self.train_rows, "train_positives": self.train_positives,
                "cv_f1": self.cv_f1, "holdout": self.holdout.to_json()}


@dataclass(frozen=True, slots=True)
class CalibrationResult:
    """Every principle's fit, the held-out any-principle figures, and the file written.

    `cv_any` is the training-split F1 of "any principle fired" (out-of-fold scores, mean
    over the datasets and the exemplar files' lines, each in `cv_sets`; a set without
    violations counts by the share it lets through): the figure to compare two ways of
    fitting by, since the held-out split must only ever report.
    """

    fits: tuple[PrincipleFit, ...]
    holdout_any: dict[str, Confusion]
    cv_sets: dict[str, float] = field(default_factory=dict)  # cv_any's figure per set
    path: str = ""
    sha256: str = ""

    @property
    def cv_any(self) -> float:
        values = list(self.cv_sets.values())
        return round(float(np.mean(values)), 4) if values else 0.0

    def figures(self) -> dict[str, Any]:
        """The any-principle figures, as the calibration file and `calibrate --json` give them."""
        return {"cv_any": self.cv_any, "cv_sets": self.cv_sets,
                "holdout_any": {name: c.to_json() for name, c in self.holdout_any.items()}}


def calibrate(constitution: Constitution, datasets: Sequence[Dataset], *,
              detector: SemanticDetector, write: bool = True) -> CalibrationResult:
    """Fit every semantic principle, score the test splits, and write the file."""
    principles = [p for p in constitution.principles if p.check("semantic") is not None]
    train = [(d.name, i) for d in datasets for i in d.split("train").items]
    weak = _assign_binary(principles, [i for _, i in train if i.violation and not i.labels],
                          detector)
    lines = {p.id: _exemplar_rows(p, constitution) for p in principles}
    fitted = [_fit(p, [i for _, i in train], weak, lines[p.id], detector) for p in principles]
    authored = [(AUTHORED, item) for item in _authored(lines.values())]
    fits, cv_sets = _joint_thresholds([f for f, _ in fitted], [o for _, o in fitted],
                                      train + authored, principles, detector)
    fits = [_holdout(f, constitution, datasets, detector) for f in fits]
    heads = {f.principle: f.head for f in fits if f.head is not None}
    holdout_any = {d.name: _any(principles, heads, d.split("test").items, detector)
                   for d in datasets}
    result = CalibrationResult(tuple(fits), holdout_any, cv_sets)
    if not write:
        return result
    body = _document(constitution, datasets, result, detector)
    path = calibration_path(constitution)
    raw = (json.dumps(body, indent=1, sort_keys=True) + "\n").encode()
    path.write_bytes(raw)
    return replace(result, path=str(path), sha256=hashlib.sha256(raw).hexdigest())


def _assign_binary(principles: Sequence[Principle], items: Sequence[Item],
                   detector: SemanticDetector) -> dict[str, str]:
    """Item id -> the principle a binary-only positive most resembles."""
    if not items or not principles:
        return {}
    exchanges = [Exchange(i.prompt, i.output) for i in items]
    margins = np.stack([f.per_text(f.margins)
                        for f in (detector.features(p, exchanges) for p in principles)])
    best = margins.argmax(axis=0)
    return {item.id: principles[int(k)].id for item, k in zip(items, best, strict=True)}


def _rows(principle: Principle, items: Sequence[Item], weak: dict[str, str]
          ) -> tuple[list[Exchange], list[bool], list[str]]:
    exchanges, labels, ids = [], [], []
    for item in items:
        label = item.label(principle.id)
        if label is None and item.violation and not item.labels:
            label = weak.get(item.id) == principle.id or None
        elif label is False and item.violation:
            label = None  # violates another principle: not a clean negative for this one
        if label is not None:
            exchanges.append(Exchange(item.prompt, item.output))
            labels.append(label)
            ids.append(item.id)
    return exchanges, labels, ids


def _fit(principle: Principle, items: Sequence[Item], weak: dict[str, str],
         lines: Sequence[Exemplar], detector: SemanticDetector
         ) -> tuple[PrincipleFit, dict[str, float]]:
    """The head, and out-of-fold scores of the rows it was fitted on: dataset items by
    item id, the exemplar `lines` (see `_exemplar_rows`) by `_authored_id`."""
    exchanges, labels, ids = _rows(principle, items, weak)
    every = detector.features(principle, exchanges)
    y = np.asarray(labels, dtype=bool)
    if lines:
        every = every.then(detector.features(
            principle, [Exchange(e.prompt, e.output) for e in lines], exclude_self=True))
        y = np.concatenate([y, [e.violated for e in lines]])
    fitted = every.nearest()
    positives = int(y.sum())
    if positives < MIN_EACH or len(y) - positives < MIN_EACH:
        return PrincipleFit(principle.id, None, len(y), positives,
                            reason=f"needs {MIN_EACH} positives and negatives"), {}
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold

    folds = list(StratifiedKFold(n_splits=5, shuffle=True, random_state=0)
                 .split(fitted.vectors, y))
    best: tuple[float, float, float, float, npt.NDArray[np.float64]] | None = None
    for strength, scale in itertools.product(STRENGTHS, SCALES):  # best cross-validated F1
        x, windows = _inputs(fitted, scale), _inputs(every, scale)
        found = np.zeros(len(y))
        for rows, held in folds:  # held-out rows scored as served: their best window
            model = LogisticRegression(C=strength, class_weight="balanced", max_iter=5000)
            model.fit(x[rows], y[rows])
            found[held] = every.per_text(model.predict_proba(windows)[:, 1])[held]
        threshold = _best_threshold(found, y)
        f1 = Confusion.of(zip(y.tolist(), (found >= threshold).tolist(), strict=True)).f1
        if best is None or f1 > best[0] + 1e-9:
            best = (f1, strength, scale, threshold, found)
    assert best is not None
    cv_f1, strength, scale, threshold, scores = best
    model = LogisticRegression(C=strength, class_weight="balanced", max_iter=5000)
    model.fit(_inputs(fitted, scale), y)
    weights = model.coef_[0]
    head = Head(tuple(float(w) for w in weights[:-1]), float(weights[-1]) * scale,
                float(model.intercept_[0]), threshold, fingerprint(principle))
    ids = ids + [_authored_id(e) for e in lines]
    out_of_fold = {i: float(v) for i, v in zip(ids, scores, strict=True)}
    return PrincipleFit(principle.id, head, len(y), positives,
                        cv_f1=round(cv_f1, 4)), out_of_fold


def _exemplar_rows(principle: Principle, constitution: Constitution) -> list[Exemplar]:
    """The principle's exemplar file, then every other file's compliant lines.

    A compliant look-alike is safe under every principle: "kill a mosquito" written for
    violence must not fire self-harm either. Another file's violating lines are left
    out, because harms overlap (a threat is violence and harassment).
    """
    own = exemplar_file(constitution, principle.id)
    rows = list(read_exemplars(own)) if own is not None else []
    seen = {_authored_id(e) for e in rows}
    for other in constitution.principles:
        path = exemplar_file(constitution, other.id) if other.id != principle.id else None
        for line in read_exemplars(path) if path is not None else ():
            if not line.violated and _authored_id(line) not in seen:
                seen.add(_authored_id(line))
                rows.append(line)
    return rows


def _authored(rows: Iterable[Sequence[Exemplar]]) -> list[Item]:
    """The heads' exemplar rows (see `_exemplar_rows`), once each, as items of one set.

    They are the only training text written to look like a harm without being one, so
    the shared offset is tuned on them too: tuned on the moderation set alone, it would
    buy recall with look-alikes stopped, which that set (almost no safe text using a
    harm's words) cannot see. Every item is a row of some head, so each has an
    out-of-fold score; a line violating under any file is a violation.
    """
    found: dict[str, Item] = {}
    for lines in rows:
        for line in lines:
            key = _authored_id(line)
            if line.violated or key not in found:
                found[key] = Item(key, line.prompt, line.output, line.violated)
    return list(found.values())


def _authored_id(line: Exemplar) -> str:
    """One exemplar line's id: a head's out-of-fold score and the set's item share it."""
    return f"{AUTHORED}:{line.prompt}\n{line.output}"


def _joint_thresholds(fits: Sequence[PrincipleFit], out_of_fold: Sequence[dict[str, float]],
                      train: Sequence[tuple[str, Item]], principles: Sequence[Principle],
                      detector: SemanticDetector
                      ) -> tuple[list[PrincipleFit], dict[str, float]]:
    """Shift every head's threshold by one shared offset, tuned for "any principle fired".

    Each head keeps its own F1-best threshold relative to the others (so the principle a
    finding names stays the one it most resembles); the offset decides how much the
    union lets through, since per-principle thresholds each add their own false
    positives to it. The objective is the F1 of that union on the training items
    (out-of-fold scores where the item was a training row of the head, the head's score
    otherwise); with several sets (each dataset, and the exemplar lines), the mean of
    their F1s, so a small set (the over-blocking test) weighs as much as a large one. A
    set with no violation in it (an app's own everyday answers) counts by the share it
    lets through, since its F1 is 0 whatever the heads do. Returns the heads and each
    set's figure.
    """
    chosen = [i for i, f in enumerate(fits) if f.head is not None]
    items = [item for _, item in train]
    if not chosen or not items:
        return list(fits), {}
    labels = [i.violation for i in items]
    groups = {dataset: [row for row, (name, _) in enumerate(train) if name == dataset]
              for dataset in dict.fromkeys(name for name, _ in train)}
    exchanges = [Exchange(i.prompt, i.output) for i in items]
    own, heads = [], []
    for k in chosen:
        head = fits[k].head
        assert head is not None
        full = _highest(detector.features(principles[k], exchanges), head)
        own.append(head.threshold)
        heads.append(np.asarray([out_of_fold[k].get(item.id, full[row])
                                 for row, item in enumerate(items)]))

    offset, figures = shared_offset(heads, own, labels, groups)
    tuned = list(fits)
    for k, t in zip(chosen, own, strict=True):
        head = fits[k].head
        assert head is not None
        tuned[k] = replace(fits[k], head=replace(head, threshold=round(moved(t, offset), 4)))
    return tuned, {name: round(v, 4) for name, v in figures.items()}


def shared_offset(heads: Sequence[npt.NDArray[np.float64]], own: Sequence[float],
                  labels: Sequence[bool], groups: dict[str, list[int]]
                  ) -> tuple[float, dict[str, float]]:
    """The one offset by which every head's threshold moves (`_joint_thresholds`): the
    best mean over the sets (`groups`: rows of each) of "any head fired"'s agreement with
    `labels`, the smaller shift on a tie; and each set's figure at it. `heads` are each
    head's scores of every row, `own` its own threshold."""
    def per_set(offset: float) -> dict[str, float]:
        fired = np.zeros(len(labels), dtype=bool)
        for row, t in zip(heads, own, strict=True):
            fired |= row >= moved(t, offset)
        return {name: _agreement([labels[r] for r in group], [bool(fired[r]) for r in group])
                for name, group in groups.items()}

    offsets = [round(float(o), 2) for o in np.arange(-0.2, 0.501, 0.02)]
    figures = {o: per_set(o) for o in offsets}
    scored = {o: float(np.mean(list(f.values()))) for o, f in figures.items()}
    offset = max(scored, key=lambda o: (scored[o], -abs(o)))
    return offset, figures[offset]


def moved(threshold: float, offset: float) -> float:
    """A head's threshold moved down by the shared offset, kept within [0.05, 0.99]."""
    return min(max(threshold - offset, 0.05), 0.99)


def _agreement(labels: Sequence[bool], fired: Sequence[bool]) -> float:
    """F1 of `fired` against `labels`; for a set without violations, the share let through."""
    counts = Confusion.of(zip(labels, fired, strict=True))
    return counts.f1 if counts.tp + counts.fn else 1.0 - counts.false_positive_rate


def _best_threshold(scores: npt.NDArray[np.float64], labels: npt.NDArray[np.bool_]) -> float:
    best, chosen = -1.0, 0.5
    for threshold in np.arange(0.2, 0.951, 0.01):
        f1 = Confusion.of(zip(labels.tolist(), (scores >= threshold).tolist(),
                              strict=True)).f1
        if f1 > best + 1e-9:
            best, chosen = f1, float(threshold)
    return round(chosen, 4)


def _holdout(fit: PrincipleFit, constitution: Constitution, datasets: Sequence[Dataset],
             detector: SemanticDetector) -> PrincipleFit:
    if fit.head is None:
        return fit
    principle = constitution.principle(fit.principle)
    items = [i for d in datasets for i in d.split("test").items
             if i.label(fit.principle) is not None]
    if not items:
        return fit
    predicted = _predict(principle, fit.head, items, detector)
    labels = [bool(i.label(fit.principle)) for i in items]
    return replace(fit, holdout=Confusion.of(zip(labels, predicted, strict=True)))


def _predict(principle: Principle, head: Head, items: Sequence[Item],
             detector: SemanticDetector) -> list[bool]:
    features = detector.features(principle, [Exchange(i.prompt, i.output) for i in items])
    return [bool(v) for v in _highest(features, head) >= head.threshold]


def _inputs(features: Features, scale: float) -> npt.NDArray[np.float32]:
    """A head's input rows: the embedding, then the margin times `scale`."""
    return np.hstack([features.vectors, scale * features.margins.reshape(-1, 1)])


def _highest(features: Features, head: Head) -> npt.NDArray[np.float64]:
    """Each text's score as the detector serves it: its best window's head score."""
    return features.per_text(head.score(features.vectors, features.margins))


def _any(principles: Sequence[Principle], heads: dict[str, Head], items: Sequence[Item],
         detector: SemanticDetector) -> Confusion:
    flagged = np.zeros(len(items), dtype=bool)
    for p in principles:
        if p.id in heads and items:
            flagged |= np.asarray(_predict(p, heads[p.id], items, detector))
    return Confusion.of(zip([i.violation for i in items], flagged.tolist(), strict=True))


def _document(constitution: Constitution, datasets: Sequence[Dataset],
              result: CalibrationResult, detector: SemanticDetector) -> dict[str, Any]:
    return {
        "format": FORMAT,
        "constitution": {"id": constitution.id, "version": constitution.version,
                         "sha256": constitution.sha256},
        "encoder": {"model": detector.encoder.name, "precision": detector.encoder.precision,
                    "version": detector.encoder.version},
        "split": {"rule": 'train when int(sha256("<dataset>:<item id>"), 16) % 100 < '
                          f"{TRAIN_PERCENT}", "fitted_on": "train", "reported_on": "test"},
        "datasets": [{"name": d.name, "source": Path(d.source).name,
                      "train_items": len(d.split("train").items),
                      "test_items": len(d.split("test").items)} for d in datasets],
        "principles": {f.principle: {**f.head.to_json(), **f.to_json()}
                       for f in result.fits if f.head is not None},
        "skipped": {f.principle: f.reason for f in result.fits if f.head is None},
        **result.figures(),
    }
