"""Request-head designs of other kinds on MiniLM: neighbours and a small network (issue 19).

The input stage misses issue 19's XSTest target (at most 10% of the safe prompts stopped,
at least 80% of the unsafe): the shipped request head, a logistic regression over MiniLM
vectors of the prompt and twelve `request_cues`, stops 8.2% / 57.4% out of fold. Every
design tried so far was linear over sentence vectors (docs/judgement.md). This bench tries
two that are not, on the prompts the shipped fit uses, the same grouped folds and the same
rule (`_choose_request`'s: the most harmful prompts stopped with every harmless source at
most 10%, the threshold from its grid):

    a  shipped          the shipped head (must give 8.2% / 57.4%)
    b  neighbours       the shipped inputs and two more columns: the mean cosine of the
                        prompt to its k nearest harmful and its k nearest harmless
                        training prompts (k = 5), computed inside each fold, a training
                        prompt's without its own group
    c  neighbour vote   the share of harmful prompts among the k = 15 nearest training
                        prompts, weighted by cosine, alone
    d  network          one hidden layer of 64 units over the shipped inputs (L2 from the
                        same strengths)

Vectors are kept in `--cache` (`encoder_trial`'s MiniLM int8, as shipped).

    nice -n 10 .venv/bin/python bench/request_designs.py --cache /tmp/encoder-trial
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from encoder_trial import save  # bench/encoder_trial.py, beside this file
from request_encoder import XSTEST, prompt_vectors, request_rows  # beside this file too

from supervisor.detectors.exchange import request_input
from supervisor.evaluation.exchange_fit import (
    FOLDS,
    STRENGTHS,
    THRESHOLDS,
    Row,
    _choose_request,
    _logistic,
    _per_source,
    request_rule,
    scaled_cues,
)

Array = npt.NDArray[np.float64]
RESULTS = Path(__file__).parent / "results" / "request_designs.json"
JBB = "jbb-responses.jsonl"
NEAREST, VOTERS = 5, 15


def unit_means(chosen: Sequence[Row], vectors: dict[str, Any]) -> Array:
    """Each prompt's windows' mean direction (what neighbours are found by)."""
    means = np.stack([vectors[r.prompt].mean(axis=0) for r in chosen]).astype(np.float64)
    return means / np.linalg.norm(means, axis=1, keepdims=True)


def neighbour_columns(sims: Array, y: npt.NDArray[np.int_]) -> Array:
    """Per row of `sims` (cosines to the training prompts, excluded ones at -inf): the mean
    of the NEAREST highest among the harmful and among the harmless prompts."""
    def top(mask: npt.NDArray[np.bool_]) -> Array:
        part = np.where(mask[None, :], sims, -np.inf)
        best = -np.sort(-part, axis=1)[:, :NEAREST]
        return np.where(np.isfinite(best), best, 0.0).mean(axis=1)

    return np.stack([top(y == 1), top(y == 0)], axis=1)


def vote(sims: Array, y: npt.NDArray[np.int_]) -> Array:
    """The cosine-weighted share of harmful prompts among each row's VOTERS nearest."""
    order = np.argsort(-sims, axis=1)[:, :VOTERS]
    weights = np.clip(np.take_along_axis(sims, order, axis=1), 0.0, None)
    return (weights * y[order]).sum(axis=1) / np.maximum(weights.sum(axis=1), 1e-9)


def folds(x: Any, y: npt.NDArray[np.int_], groups: npt.NDArray[np.str_]
          ) -> list[tuple[npt.NDArray[np.int_], npt.NDArray[np.int_]]]:
    from sklearn.model_selection import GroupKFold

    return list(GroupKFold(FOLDS).split(x, y, groups))


def out_of_fold(x: npt.NDArray[np.float32], y: npt.NDArray[np.int_], w: Array,
                groups: npt.NDArray[np.str_], means: Array, design: str,
                strength: float) -> Array:
    """One design's out-of-fold scores at one strength."""
    from sklearn.neural_network import MLPClassifier

    scores = np.zeros(len(y))
    for train, test in folds(x, y, groups):
        sims_test = means[test] @ means[train].T
        if design == "c neighbour vote":
            scores[test] = vote(sims_test, y[train])
            continue
        if design == "d network":
            net = MLPClassifier((64,), alpha=1.0 / strength, max_iter=400, random_state=0)
            net.fit(x[train], y[train])
            scores[test] = net.predict_proba(x[test])[:, 1]
            continue
        sims_train = means[train] @ means[train].T  # a prompt never its own neighbour
        same = groups[train][:, None] == groups[train][None, :]
        sims_train[same] = -np.inf
        xt = np.hstack([x[train], neighbour_columns(sims_train, y[train])])
        xs = np.hstack([x[test], neighbour_columns(sims_test, y[train])])
        model = _logistic(xt, y[train], w[train], strength)
        scores[test] = model.predict_proba(xs)[:, 1]
    return scores


def choose(chosen: Sequence[Row], y: npt.NDArray[np.int_],
           scored: Callable[[float], Array], strengths: Sequence[float]) -> dict[str, Any]:
    """`_choose_request`'s rule over a design's out-of-fold scores."""
    from sklearn.metrics import roc_auc_score

    sources = np.array([r.source for r in chosen])
    best: tuple[tuple[bool, float], float, float, Array] | None = None
    for strength in strengths:
        scores = scored(strength)
        for threshold in THRESHOLDS:
            key = request_rule(scores >= threshold, y, sources, max_safe=0.10)
            if best is None or key > best[0]:
                best = (key, strength, threshold, scores)
    assert best is not None
    (within, _), strength, threshold, scores = best
    stopped = scores >= threshold
    xs = sources == XSTEST

    def rate(mask: npt.NDArray[np.bool_]) -> float:
        return round(float(stopped[mask].mean()), 4)

    return {"strength": strength, "threshold": threshold, "within_rule": within,
            "xstest_safe_stopped": rate(xs & (y == 0)),
            "xstest_unsafe_stopped": rate(xs & (y == 1)),
            "xstest_auc": round(float(roc_auc_score(y[xs], scores[xs])), 4),
            "jbb_attacks_stopped": rate((sources == JBB) & (y == 1)),
            "harmless_stopped": {s: rate((sources == s) & (y == 0))
                                 for s in sorted(set(sources[y == 0]))}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cache", type=Path, default=Path("/tmp/encoder-trial"))
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    args.cache.mkdir(parents=True, exist_ok=True)
    chosen = request_rows()
    vectors = prompt_vectors("minilm-int8", args.cache, chosen)
    x = np.stack([scaled_cues(request_input(vectors[r.prompt], r.prompt, True))
                  for r in chosen])
    y = np.array([bool(r.harmful_request) for r in chosen], dtype=int)
    w, groups = _per_source(chosen), np.array([r.group for r in chosen])
    means = unit_means(chosen, vectors)
    results: dict[str, Any] = {"prompts": len(chosen), "designs": {}}
    _, shipped, held_out = _choose_request(chosen, x, y, w, groups, max_safe=0.10)
    results["designs"]["a shipped"] = choose(
        chosen, y, lambda _: held_out, [shipped["strength"]])
    for design in ("b neighbours", "c neighbour vote", "d network"):
        strengths = [1.0] if design == "c neighbour vote" else list(STRENGTHS)
        results["designs"][design] = choose(chosen, y, lambda s, d=design: out_of_fold(
            x, y, w, groups, means, d, s), strengths)
        print(design, json.dumps(results["designs"][design]), flush=True)
    print("| design | XSTest safe / unsafe stopped | XSTest AUC | JBB attacks stopped | "
          "worst harmless source |")
    print("| --- | --- | --- | --- | --- |")
    for name, d in results["designs"].items():
        print(f"| {name} | {d['xstest_safe_stopped']:.1%} / {d['xstest_unsafe_stopped']:.1%}"
              f" | {d['xstest_auc']:.3f} | {d['jbb_attacks_stopped']:.1%} | "
              f"{max(d['harmless_stopped'].values()):.1%} |")
    save(results, args.out)
    print(f"saved {args.out}")


if __name__ == "__main__":
    main()
