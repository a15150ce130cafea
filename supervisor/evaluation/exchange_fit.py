"""Fit the exchange model (`supervisor.detectors.exchange`) on labelled exchanges.

Input: generic JSONL files of prompt/answer pairs labelled `violation` or `compliant`
(the shape of `../shared/eval/exchanges/`). Two logistic heads are fitted:

- `exchange`, on every row: violation = substantive compliance with a harmful request.
- `request`, on each distinct prompt: harmful when its row says `prompt_label: unsafe`,
  or when its file is named as an attack set (every prompt in it is a jailbreak attempt);
  `prompt_label: safe` is harmless; other prompts are left out of this head. Ordinary
  texts given as `requests` are harmless prompts too: XSTest's safe prompts are all
  look-alikes of harm, and a head that saw only them stopped everyday questions.

For the request head each file counts equally (its prompts share one unit of weight), so
a large attack set does not teach it that only jailbreak templates are harmful; the
exchange head weighs every row alike (per-file weights cost XSTest 0.06 of F1 in
cross-validation, docs/judgement.md). The regularisation and the
thresholds are chosen on out-of-fold scores of a grouped 5-fold cross-validation (rows
with the same prompt or behaviour stay in one fold), by these rules:

- exchange: the best mean F1 over the files such that, in every file that is not an
  attack set, at most `max_stopped` of the compliant answers are stopped (an ordinary
  user's good answer is what over-blocking costs; answers to jailbreak attempts are
  reported, not constrained);
- request: the most harmful prompts stopped such that at most `max_safe` of the
  harmless prompts of each source are.

The cross-validated figures are written into the model file; they are the estimate to
report, since the files themselves are the training data.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from supervisor.constitution import Constitution
from supervisor.detectors.embedding import Encoder
from supervisor.detectors.exchange import (
    FORMAT,
    SUFFIX,
    Head,
    exchange_features,
    part_of,
    request_input,
    view,
)
from supervisor.detectors.lexical import PARTS, Terms, Vocabulary, fit_vocabulary, matrix
from supervisor.detectors.request_cues import NAMES
from supervisor.errors import ConfigError

FOLDS = 5
STRENGTHS = (1.0, 3.0, 10.0)  # inverse L2 strengths tried for each head
THRESHOLDS = tuple(round(0.05 * k, 2) for k in range(1, 20))
GATES = (0.0, 0.05, 0.1, 0.15, 0.2, 0.3)  # request scores below which no answer is a violation
# The exchange head's term views (`lexical`): how many terms each keeps, and how much their
# columns weigh against the embedding's under the one L2 penalty. A larger scale fits the
# shared sets' wording more closely and lets short, plain compliance slip under the
# threshold; docs/judgement.md has the trial of 0.5, 1 and 2
TERM_SIZE = 2000
TERM_SCALE = 0.5
# The request head's cue columns (`request_cues`) are scaled so that the one L2 penalty
# lets them weigh against the embedding's 768 columns; docs/judgement.md has the trial
CUE_SCALE = 3.0


@dataclass(frozen=True, slots=True)
class Row:
    """One labelled exchange and where it came from."""

    source: str
    prompt: str
    output: str
    violation: bool
    harmful_request: bool | None  # None: the request head does not learn from it
    group: str


def read_rows(paths: Sequence[Path], attacks: Iterable[Path] = ()) -> list[Row]:
    """Rows of generic JSONL files; a clear error names the file and line that is wrong."""
    attack_names = {Path(p).resolve() for p in attacks}
    rows: list[Row] = []
    for path in paths:
        if not path.is_file():
            raise ConfigError(f"{path} does not exist; give generic JSONL files of labelled "
                              "exchanges (prompt, output, label)")
        attack = path.resolve() in attack_names
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if not line.strip():
                continue
            try:
                raw = json.loads(line)
                label = raw["label"]
                if label not in ("violation", "compliant"):
                    raise ValueError(f"label is {label!r}")
                prompt, output = str(raw["prompt"]), str(raw["output"])
            except (ValueError, KeyError, TypeError) as exc:
                raise ConfigError(f"{path}:{number}: not a labelled exchange ({exc}); each "
                                  "line needs prompt, output and label violation|compliant"
                                  ) from None
            if not prompt.strip():
                raise ConfigError(f"{path}:{number}: the prompt is empty; the exchange "
                                  "model learns from prompt and answer together")
            stated = raw.get("prompt_label")
            harmful = True if attack else (None if stated is None else stated == "unsafe")
            group = f"{path.name}:{raw.get('behavior') or prompt}"
            rows.append(Row(path.name, prompt, output, label == "violation", harmful, group))
    if not rows:
        raise ConfigError("no labelled exchanges in the given files")
    return rows


@dataclass(frozen=True, slots=True)
class Fit:
    """The fitted heads and the cross-validated figures they were chosen by."""

    request: Head
    exchange: Head
    figures: dict[str, Any]

    def to_json(self, constitution: Constitution, encoder: str,
                sources: Sequence[Path]) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "constitution": {"id": constitution.id, "version": constitution.version},
            "encoder": {"version": encoder},
            "data": [{"file": p.name, "sha256": hashlib.sha256(p.read_bytes()).hexdigest()}
                     for p in sources],
            "cross_validation": self.figures,
            "request": self.request.to_json(),
            "exchange": self.exchange.to_json(),
        }


def harmless(source: str, texts: Iterable[str]) -> list[Row]:
    """Ordinary texts (no answer) that the request head learns as harmless prompts."""
    return [Row(source, t, "", False, False, f"{source}:{t}") for t in dict.fromkeys(texts)
            if t.strip()]


def request_prompts(rows: Sequence[Row]) -> list[Row]:
    """The rows the request head learns from: the last row of each distinct prompt that
    says whether the request is harmful, in order of first appearance."""
    return list({r.prompt: r for r in rows if r.harmful_request is not None}.values())


def scaled_cues(x: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
    """A copy of request inputs (one, or one per row) with the cue columns, last, scaled
    by CUE_SCALE, as the request head is fitted (so they weigh against the embedding
    under the one L2 penalty)."""
    x = x.copy()
    x[..., -len(NAMES):] *= CUE_SCALE
    return x


def fit(rows: Sequence[Row], encoder: Encoder, *, max_stopped: float = 0.05,
        max_safe: float = 0.10, attacks: Iterable[str] = (),
        requests: Sequence[Row] = (), terms: bool = True, cues: bool = True) -> Fit:
    """Embed every row once, then choose and fit both heads (see the module docstring).

    `requests` are extra prompts for the request head only (see `harmless`). The request
    head is fitted first: its out-of-fold score of each row's prompt is the gate the
    exchange head's threshold is chosen with.
    """
    attack_sources = set(attacks)
    prompts, answers = _embed([*rows, *requests], encoder)
    chosen = request_prompts([*rows, *requests])
    if len({r.harmful_request for r in chosen}) < 2:
        raise ConfigError("the request head needs harmful and harmless prompts: give "
                          "rows with prompt_label safe/unsafe, or name an attack set")
    xq = np.stack([request_input(prompts[r.prompt], r.prompt, cues) for r in chosen])
    if cues:  # the cue columns, last, are fitted scaled and stored unscaled
        xq = scaled_cues(xq)
    yq = np.array([bool(r.harmful_request) for r in chosen], dtype=int)
    request_head, request_figures, held_out = _choose_request(
        chosen, xq, yq, _per_source(chosen), np.array([r.group for r in chosen]), max_safe)
    if cues:
        weights = request_head.weights.copy()
        weights[-len(NAMES):] *= CUE_SCALE
        request_head = dataclasses.replace(request_head, weights=weights, cues=True)
    out_of_fold = dict(zip((r.prompt for r in chosen), held_out, strict=True))
    request = np.array([out_of_fold[r.prompt] if r.prompt in out_of_fold
                        else request_head.score(request_input(prompts[r.prompt],
                                                              r.prompt, cues))
                        for r in rows])
    x = np.stack([exchange_features(prompts[r.prompt], answers[r.output], r.output)
                  for r in rows])
    y = np.array([r.violation for r in rows], dtype=int)
    weights = np.ones(len(rows))
    groups = np.array([r.group for r in rows])
    exchange_head, exchange_figures = _choose_exchange(rows, x, y, weights, groups, request,
                                                       max_stopped, attack_sources, terms)
    return Fit(request_head, exchange_head,
               {"exchange": exchange_figures, "request": request_figures,
                "rules": {"max_stopped": max_stopped, "max_safe": max_safe,
                          "attack_sets": sorted(attack_sources), "folds": FOLDS,
                          "terms": {"parts": list(PARTS), "size": TERM_SIZE,
                                    "scale": TERM_SCALE} if terms else None,
                          "cues": {"names": list(NAMES), "scale": CUE_SCALE}
                          if cues else None}})


def model_path(constitution: Constitution) -> Path:
    """Where the exchange model of a constitution is written: beside its YAML file."""
    if not constitution.path:
        raise ConfigError("the constitution has no file to write the exchange model beside")
    return Path(constitution.path).parent / f"{constitution.id}{SUFFIX}"


# -- internals -----------------------------------------------------------------------

def _embed(rows: Sequence[Row], encoder: Encoder
           ) -> tuple[dict[str, npt.NDArray[np.float32]], dict[str, npt.NDArray[np.float32]]]:
    texts = {*(r.prompt for r in rows), *(r.output for r in rows if r.output)}
    views = {t: view(t) for t in texts}
    flat = list(dict.fromkeys(v for vs in views.values() for v in vs))
    vectors = dict(zip(flat, encoder.encode(flat), strict=True))
    stacked = {t: np.stack([vectors[v] for v in vs]) for t, vs in views.items()}
    return ({r.prompt: stacked[r.prompt] for r in rows},
            {r.output: stacked[r.output] for r in rows if r.output})


def _per_source(rows: Sequence[Row]) -> npt.NDArray[np.float64]:
    counts: dict[str, int] = {}
    for r in rows:
        counts[r.source] = counts.get(r.source, 0) + 1
    mean = len(rows) / len(counts)
    return np.array([mean / counts[r.source] for r in rows])


def _out_of_fold(x: npt.NDArray[np.float32], y: npt.NDArray[np.int_],
                 w: npt.NDArray[np.float64], groups: npt.NDArray[np.str_],
                 strength: float) -> npt.NDArray[np.float64]:
    from sklearn.model_selection import GroupKFold

    scores = np.zeros(len(y))
    for train, test in GroupKFold(FOLDS).split(x, y, groups):
        scores[test] = _logistic(x[train], y[train], w[train], strength).predict_proba(
            x[test])[:, 1]
    return scores


def _vocabularies(rows: Sequence[Row]) -> list[Vocabulary]:
    return [fit_vocabulary((part_of(part, r.prompt, r.output) for r in rows), size=TERM_SIZE)
            for part in PARTS]


def _design(rows: Sequence[Row], x: npt.NDArray[np.float32],
            vocabularies: Sequence[Vocabulary]) -> Any:
    """The embedding features beside each term view's columns (scaled by TERM_SCALE)."""
    from scipy.sparse import csr_matrix, hstack

    blocks = [csr_matrix(x)]
    for part, vocabulary in zip(PARTS, vocabularies, strict=True):
        blocks.append(matrix(vocabulary, [part_of(part, r.prompt, r.output) for r in rows])
                      * TERM_SCALE)
    return hstack(blocks).tocsr()


def _term_folds(rows: Sequence[Row], x: npt.NDArray[np.float32], y: npt.NDArray[np.int_],
                groups: npt.NDArray[np.str_]) -> list[tuple[Any, Any, Any, Any]]:
    """Each fold's (train, test, train design, test design), vocabularies from train only."""
    from sklearn.model_selection import GroupKFold

    folds = []
    for train, test in GroupKFold(FOLDS).split(x, y, groups):
        vocabularies = _vocabularies([rows[i] for i in train])
        folds.append((train, test, _design([rows[i] for i in train], x[train], vocabularies),
                      _design([rows[i] for i in test], x[test], vocabularies)))
    return folds


def _logistic(x: Any, y: npt.NDArray[np.int_],
              w: npt.NDArray[np.float64], strength: float) -> Any:
    from sklearn.linear_model import LogisticRegression

    return LogisticRegression(C=strength, max_iter=5000).fit(x, y, sample_weight=w)


def _counts(predicted: npt.NDArray[np.bool_], y: npt.NDArray[np.int_]) -> dict[str, Any]:
    tp = int((predicted & (y == 1)).sum())
    fp = int((predicted & (y == 0)).sum())
    fn = int((~predicted & (y == 1)).sum())
    negatives = int((y == 0).sum())
    return {"f1": round(2 * tp / max(1, 2 * tp + fp + fn), 4), "tp": tp, "fp": fp, "fn": fn,
            "precision": round(tp / max(1, tp + fp), 4), "recall": round(tp / max(1, tp + fn), 4),
            "compliant_stopped": round(fp / max(1, negatives), 4)}


def _choose_exchange(rows: Sequence[Row], x: npt.NDArray[np.float32], y: npt.NDArray[np.int_],
                     w: npt.NDArray[np.float64], groups: npt.NDArray[np.str_],
                     request: npt.NDArray[np.float64], max_stopped: float,
                     attacks: set[str], terms: bool) -> tuple[Head, dict[str, Any]]:
    sources = np.array([r.source for r in rows])
    scored = sorted({r.source for r in rows if r.violation})  # F1 needs violations
    best: tuple[tuple[bool, float], float, float, float, dict[str, Any]] | None = None
    folds = _term_folds(rows, x, y, groups) if terms else []
    for strength in STRENGTHS:
        if terms:
            scores = np.zeros(len(y))
            for train, test, fitted_on, held_out in folds:
                scores[test] = _logistic(fitted_on, y[train], w[train],
                                         strength).predict_proba(held_out)[:, 1]
        else:
            scores = _out_of_fold(x, y, w, groups, strength)
        for threshold in THRESHOLDS:
            for gate in GATES:
                stopped = (scores >= threshold) & (request >= gate)
                per = {s: _counts(stopped[sources == s], y[sources == s])
                       for s in sorted(set(sources))}
                feasible = all(f["compliant_stopped"] <= max_stopped
                               for s, f in per.items() if s not in attacks)
                key = (feasible, float(np.mean([per[s]["f1"] for s in scored])))
                if best is None or key > best[0]:
                    best = (key, strength, threshold, gate, per)
    assert best is not None
    _, strength, threshold, gate, per = best
    vocabularies = _vocabularies(rows) if terms else []
    model = _logistic(_design(rows, x, vocabularies) if terms else x, y, w, strength)
    coef = model.coef_[0].astype(np.float64)
    views, start = [], x.shape[1]
    for part, vocabulary in zip(PARTS if terms else (), vocabularies, strict=True):
        end = start + len(vocabulary.names)
        views.append(Terms(part, vocabulary, coef[start:end] * TERM_SCALE))
        start = end
    head = Head(coef[:x.shape[1]], float(model.intercept_[0]), threshold, gate, tuple(views))
    return head, {"strength": strength, "threshold": threshold, "request_gate": gate,
                  "per_file": per, "within_rule": best[0][0]}


def request_rule(stopped: npt.NDArray[np.bool_], y: npt.NDArray[np.int_],
                 sources: npt.NDArray[np.str_], max_safe: float) -> tuple[bool, float]:
    """How the request head's setting is chosen, as a key to maximise: within the rule
    (every harmless source at most `max_safe` stopped), the most harmful prompts stopped;
    outside it, the least stopped of the worst harmless source."""
    safe = max(float(stopped[(sources == s) & (y == 0)].mean())
               for s in set(sources[y == 0]))  # the worst harmless source
    recall = float(stopped[y == 1].mean())
    return (safe <= max_safe, recall if safe <= max_safe else -safe)


def _choose_request(rows: Sequence[Row], x: npt.NDArray[np.float32], y: npt.NDArray[np.int_],
                    w: npt.NDArray[np.float64], groups: npt.NDArray[np.str_],
                    max_safe: float
                    ) -> tuple[Head, dict[str, Any], npt.NDArray[np.float64]]:
    sources = np.array([r.source for r in rows])
    best: tuple[tuple[bool, float], float, float, dict[str, Any],
                npt.NDArray[np.float64]] | None = None
    for strength in STRENGTHS:
        scores = _out_of_fold(x, y, w, groups, strength)
        for threshold in THRESHOLDS:
            stopped = scores >= threshold
            key = request_rule(stopped, y, sources, max_safe)
            if best is None or key > best[0]:
                per = {s: {"harmful_stopped": round(float(stopped[(sources == s) & (y == 1)]
                                                          .mean()), 4)
                           if ((sources == s) & (y == 1)).any() else None,
                           "safe_stopped": round(float(stopped[(sources == s) & (y == 0)]
                                                       .mean()), 4)
                           if ((sources == s) & (y == 0)).any() else None,
                           "prompts": int((sources == s).sum())}
                       for s in sorted(set(sources))}
                best = (key, strength, threshold, per, scores)
    assert best is not None
    _, strength, threshold, per, held_out = best
    model = _logistic(x, y, w, strength)
    head = Head(model.coef_[0].astype(np.float64), float(model.intercept_[0]), threshold)
    return head, {"strength": strength, "threshold": threshold, "per_file": per,
                  "within_rule": best[0][0]}, held_out
