"""Would a term view help the semantic heads, as it helped the exchange head? (issue 19)

The moderation set's held-out F1 (0.693) misses issue 19's kept target of 0.70. The
semantic heads read MiniLM vectors of a text's windows and an exemplar margin
(`supervisor.evaluation.calibrate`); the exchange head gained 0.06 to 0.13 of XSTest F1
from TF-IDF views of words and word pairs beside its vectors (docs/judgement.md). This
bench asks the same of the semantic heads, on the training split only (the rows and
folds `calibrate` uses: the moderation set's training 60% and each principle's exemplar
rows), so nothing here reads the held-out split:

    vectors   the shipped inputs (window vector, margin x scale)
    terms     the same, plus the whole text's TF-IDF (`lexical`, 2,000 terms, vocabulary
              from each fold's training rows only) on every window's row, scaled by
              --term-scale

Each head's strength and margin scale are chosen per design by out-of-fold F1 over a
3 x 3 grid (of calibrate's 5 x 5), its threshold F1-best; texts score by their best
window, as served. Reported: each principle's out-of-fold F1, and "any principle
fired" on the moderation training items (each head at its own threshold; calibrate's
shared offset is not tuned here, for either design).

    nice -n 10 .venv/bin/python bench/semantic_terms.py [--term-scale 0.5]
"""

from __future__ import annotations

import argparse
import itertools
import json
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from supervisor.constitution import load_constitution
from supervisor.detectors.lexical import fit_vocabulary, matrix
from supervisor.detectors.semantic import Exchange
from supervisor.evaluation.calibrate import (
    _assign_binary,
    _best_threshold,
    _exemplar_rows,
    _inputs,
    _rows,
)
from supervisor.evaluation.metrics import Confusion

RESULTS = Path(__file__).parent / "results" / "semantic_terms.json"
STRENGTHS = (0.3, 1.0, 3.0)
SCALES = (1.0, 3.0, 10.0)
TERM_SIZE = 2000


def out_of_fold(every: Any, texts: list[str], y: npt.NDArray[np.bool_],
                term_scale: float | None) -> tuple[float, float, npt.NDArray[np.float64]]:
    """The best (F1, threshold, per-text out-of-fold scores) over the grid."""
    from scipy.sparse import csr_matrix, hstack
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold

    fitted = every.nearest()
    folds = list(StratifiedKFold(n_splits=5, shuffle=True, random_state=0)
                 .split(fitted.vectors, y))
    # per fold: the texts' term rows and every window's (None: no terms)
    designs: list[tuple[Any, Any] | None] = []
    for rows, _ in folds:
        if term_scale is None:
            designs.append(None)
            continue
        vocabulary = fit_vocabulary((texts[i] for i in rows), size=TERM_SIZE)
        per_text = matrix(vocabulary, texts) * term_scale
        designs.append((per_text[np.arange(len(texts))], per_text[every.owner]))
    best: tuple[float, float, npt.NDArray[np.float64]] | None = None
    for strength, scale in itertools.product(STRENGTHS, SCALES):
        x, windows = _inputs(fitted, scale), _inputs(every, scale)
        found = np.zeros(len(y))
        for (rows, held), design in zip(folds, designs, strict=True):
            model = LogisticRegression(C=strength, class_weight="balanced", max_iter=5000)
            if design is None:
                model.fit(x[rows], y[rows])
                scores = model.predict_proba(windows)[:, 1]
            else:
                text_terms, window_terms = design
                model.fit(hstack([csr_matrix(x), text_terms]).tocsr()[rows], y[rows])
                scores = model.predict_proba(hstack([csr_matrix(windows),
                                                     window_terms]).tocsr())[:, 1]
            found[held] = every.per_text(scores)[held]
        threshold = _best_threshold(found, y)
        f1 = Confusion.of(zip(y.tolist(), (found >= threshold).tolist(), strict=True)).f1
        if best is None or f1 > best[0] + 1e-9:
            best = (f1, threshold, found)
    assert best is not None
    return best


def main() -> None:
    from supervisor.detectors.semantic import shared_semantic
    from supervisor.evaluation.datasets import load_dataset

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--term-scale", type=float, default=0.5)
    args = parser.parse_args()
    constitution = load_constitution("base")
    detector = shared_semantic().bind(constitution)  # as `supervisor calibrate` does
    train = load_dataset("openai-moderation", constitution).split("train").items
    principles = [p for p in constitution.principles if p.check("semantic") is not None]
    weak = _assign_binary(principles, [i for i in train if i.violation and not i.labels],
                          detector)
    fired: dict[str, npt.NDArray[np.bool_]] = {
        d: np.zeros(len(train), dtype=bool) for d in ("vectors", "terms")}
    index = {item.id: k for k, item in enumerate(train)}
    per_principle: dict[str, dict[str, float]] = {}
    for principle in principles:
        exchanges, labels, ids = _rows(principle, train, weak)
        lines = _exemplar_rows(principle, constitution)
        every = detector.features(principle, exchanges)
        texts = [e.text for e in exchanges]
        if lines:
            every = every.then(detector.features(
                principle, [Exchange(e.prompt, e.output) for e in lines], exclude_self=True))
            texts += [e.output for e in lines]
        y = np.asarray([*labels, *(e.violated for e in lines)], dtype=bool)
        per_principle[principle.id] = {}
        for design, scale in (("vectors", None), ("terms", args.term_scale)):
            f1, threshold, scores = out_of_fold(every, texts, y, scale)
            per_principle[principle.id][design] = round(f1, 4)
            for item_id, score in zip(ids, scores[:len(ids)], strict=True):
                fired[design][index[item_id]] |= score >= threshold
        print(principle.id, per_principle[principle.id], flush=True)
    truth = [i.violation for i in train]
    anyf = {d: Confusion.of(zip(truth, f.tolist(), strict=True)).to_json()
            for d, f in fired.items()}
    for design, figures in anyf.items():
        print(f"any principle fired, moderation training items, {design}: {figures}")
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps({"term_scale": args.term_scale,
                                   "per_principle_cv_f1": per_principle,
                                   "any_moderation_train": anyf}, indent=1) + "\n")
    print(f"saved {RESULTS}")


if __name__ == "__main__":
    main()
