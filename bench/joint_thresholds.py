"""One shared threshold offset, or a threshold per head tuned together? (issue 19)

The moderation endpoint flags a text when any principle fires, so its F1 is that of the
union of the semantic heads. `calibrate` gives each head its own F1-best threshold, then
moves all of them by one shared offset tuned for the union (`_joint_thresholds`). Eight
thresholds tuned together for the union can trade one head's false positives against
another's recall, which one offset cannot. This bench fits the heads as `calibrate -c base
-d openai-moderation` does (training split only) and compares the two ways of setting
thresholds by cross-validation over the training items: tuned on four fifths of them
(each set's F1, mean over the moderation items and the exemplar lines, as calibrate's
objective), scored on the fifth they did not see, every item scored once.

    nice -n 10 .venv/bin/python bench/joint_thresholds.py
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from supervisor.evaluation.calibrate import _agreement, moved, shared_offset
from supervisor.evaluation.metrics import Confusion

RESULTS = Path(__file__).parent / "results" / "joint_thresholds.json"
GRID = np.round(np.arange(0.05, 0.991, 0.02), 2)
PASSES = 3

Scores = npt.NDArray[np.float64]
Mask = npt.NDArray[np.bool_]


def heads_and_scores() -> tuple[Scores, Mask, list[str], npt.NDArray[np.float64], list[str]]:
    """Each training item's score under each head (out-of-fold where the item was one of
    the head's rows, as calibrate's `_joint_thresholds` reads them), the labels, each
    item's set, the heads' own thresholds and their principles."""
    from supervisor.constitution import load_constitution
    from supervisor.detectors.semantic import Exchange, shared_semantic
    from supervisor.evaluation.calibrate import (
        AUTHORED,
        _assign_binary,
        _authored,
        _exemplar_rows,
        _fit,
        _highest,
    )
    from supervisor.evaluation.datasets import load_dataset

    constitution = load_constitution("base")
    detector = shared_semantic().bind(constitution)
    dataset = load_dataset("openai-moderation", constitution)
    principles = [p for p in constitution.principles if p.check("semantic") is not None]
    train = [(dataset.name, i) for i in dataset.split("train").items]
    weak = _assign_binary(principles, [i for _, i in train if i.violation and not i.labels],
                          detector)
    lines = {p.id: _exemplar_rows(p, constitution) for p in principles}
    fitted = [_fit(p, [i for _, i in train], weak, lines[p.id], detector) for p in principles]
    train += [(AUTHORED, item) for item in _authored(lines.values())]
    items = [item for _, item in train]
    exchanges = [Exchange(i.prompt, i.output) for i in items]
    columns, own, names = [], [], []
    for principle, (fit, out_of_fold) in zip(principles, fitted, strict=True):
        if fit.head is None:
            continue
        full = _highest(detector.features(principle, exchanges), fit.head)
        columns.append([out_of_fold.get(item.id, full[row]) for row, item in enumerate(items)])
        own.append(fit.head.threshold)
        names.append(principle.id)
    labels = np.array([i.violation for i in items])
    return (np.array(columns).T, labels, [name for name, _ in train], np.array(own), names)


def objective(fired: Mask, labels: Mask, sets: npt.NDArray[np.str_]) -> float:
    """calibrate's: the mean over the sets of each one's agreement (`_agreement`)."""
    return float(np.mean([_agreement(labels[sets == s].tolist(), fired[sets == s].tolist())
                          for s in np.unique(sets)]))


def offset_thresholds(scores: Scores, labels: Mask, sets: npt.NDArray[np.str_],
                      own: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """The heads' own thresholds moved by calibrate's shared offset, tuned on these items."""
    groups = {s: np.flatnonzero(sets == s).tolist() for s in np.unique(sets)}
    offset, _ = shared_offset(list(scores.T), own.tolist(), labels.tolist(), groups)
    return np.array([moved(t, offset) for t in own])


def per_head(scores: Scores, labels: Mask, sets: npt.NDArray[np.str_],
             start: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """Coordinate ascent from `start`: each head's threshold in turn set to the grid value
    best for the union, the others held, for PASSES passes."""
    thresholds = start.copy()
    for _ in range(PASSES):
        for k in range(len(thresholds)):
            others = (scores[:, np.arange(len(thresholds)) != k]
                      >= np.delete(thresholds, k)).any(axis=1)
            values = [objective(np.logical_or(others, scores[:, k] >= t), labels, sets)
                      for t in GRID]
            thresholds[k] = GRID[int(np.argmax(values))]
    return thresholds


def cross_validated(scores: Scores, labels: Mask, sets: npt.NDArray[np.str_],
                    own: npt.NDArray[np.float64]) -> dict[str, Any]:
    """Each way tuned on four fifths, scored on the other fifth; every item once."""
    from sklearn.model_selection import StratifiedKFold

    strata = np.array([f"{s}:{y}" for s, y in zip(sets, labels, strict=True)])
    fired = {"shared offset": np.zeros(len(labels), dtype=bool),
             "per head": np.zeros(len(labels), dtype=bool)}
    for tune, held in StratifiedKFold(5, shuffle=True, random_state=0).split(scores, strata):
        offset = offset_thresholds(scores[tune], labels[tune], sets[tune], own)
        joint = per_head(scores[tune], labels[tune], sets[tune], offset)
        fired["shared offset"][held] = (scores[held] >= offset).any(axis=1)
        fired["per head"][held] = (scores[held] >= joint).any(axis=1)
    return {way: {"objective": round(objective(f, labels, sets), 4),
                  "per_set": {s: Confusion.of(zip(labels[sets == s].tolist(),
                                                  f[sets == s].tolist(),
                                                  strict=True)).to_json()
                              for s in np.unique(sets)}}
            for way, f in fired.items()}


def main() -> None:
    scores, labels, set_names, own, names = heads_and_scores()
    sets = np.array(set_names)
    result = cross_validated(scores, labels, sets, own)
    offset = offset_thresholds(scores, labels, sets, own)
    joint = per_head(scores, labels, sets, offset)
    result["thresholds on all training items"] = {
        name: {"shared offset": float(a), "per head": float(b)}
        for name, a, b in zip(names, offset, joint, strict=True)}
    for way in ("shared offset", "per head"):
        per = result[way]["per_set"]
        print(f"{way}: objective {result[way]['objective']}; " + "; ".join(
            f"{s} F1 {c['f1']} (precision {c['precision']}, recall {c['recall']})"
            for s, c in per.items()))
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=1) + "\n")
    print(f"saved {RESULTS}")


if __name__ == "__main__":
    main()
