"""What the semantic detector adds to a supervision, on the warm path, per 1,000-char answer.

Two Supervisors in the same run: `base` as shipped (pattern, pii and semantic checks)
and `base` with its semantic checks removed (the baseline). Every supervision gets a
distinct 1,000-character answer, and the two never check the same one: the encoder and
the PII detector both keep recent texts, so a text the other Supervisor had just checked
would measure a cache (an earlier version of this bench paired them on the same texts
and its p50 mixed PII runs of 17 ms and of 1 ms). Both are warmed first, then the runs
alternate so drift on a shared machine touches both alike; the figure is the difference
of the two medians. Also timed: the semantic detector's `scan` alone; the encoder's pass
as shipped beside the model's eager pass on one thread (what it was before the pass was
traced and spread over idle cores), alternating on the same texts; and a batch of 32
answers through `scan_many`.

    .venv/bin/python bench/semantic.py [--answers 200]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import statistics
import time
from pathlib import Path

from supervisor.constitution import load_constitution
from supervisor.detectors.embedding import MAX_TOKENS, Encoder, TorchBackend, load_model
from supervisor.detectors.semantic import Exchange, shared_semantic
from supervisor.evaluation.metrics import percentile
from supervisor.evaluation.runner import local_detectors
from supervisor.pipeline import Supervisor

SENTENCES = [
    "Index funds hold many stocks at once, which spreads the risk of any one company.",
    "A balanced diet includes vegetables, whole grains, lean protein and enough water.",
    "The museum opens at nine and the guided tour of the east wing takes about an hour.",
    "To reset the router, hold the button on the back for ten seconds and wait.",
    "Regular exercise improves sleep, mood and long-term heart health for most adults.",
    "The contract can be terminated with thirty days of written notice by either party.",
    "Photosynthesis turns light, water and carbon dioxide into sugar and oxygen.",
    "Back up your files to an external drive or a cloud service at least once a week.",
    "The recipe needs two cups of flour, one egg, a pinch of salt and warm milk.",
    "Interest compounds monthly, so the balance grows a little faster than simple interest.",
    "The train to the airport leaves every fifteen minutes from platform four.",
    "Your doctor can explain the test results and what they mean for your treatment.",
]


def answers(count: int, length: int = 1000, seed: int = 7) -> list[str]:
    """Distinct answers of exactly `length` characters built from ordinary sentences."""
    rng = random.Random(seed)
    out = []
    for number in range(count):
        parts = [f"Answer {number}."]
        while sum(len(p) + 1 for p in parts) < length:
            parts.append(rng.choice(SENTENCES))
        out.append(" ".join(parts)[:length])
    return out


def summary(values: list[float]) -> dict[str, float]:
    return {"p50": round(percentile(values, 50), 3), "p99": round(percentile(values, 99), 3),
            "mean": round(statistics.fmean(values), 3)}


def encoder_passes(encoder: Encoder, texts: list[str]) -> dict[str, list[float]]:
    """The shipped pass (traced, one thread) beside the eager one-thread pass."""
    import torch

    backend = encoder.backend
    assert isinstance(backend, TorchBackend)
    backend.load()
    model = load_model(encoder.precision)
    eager = model.transformer
    timed: dict[str, list[float]] = {"shipped": [], "eager_one_thread": []}
    for text in texts:  # both: word pieces and transformer
        started = time.perf_counter()
        backend.forward([text])
        timed["shipped"].append((time.perf_counter() - started) * 1000)
        torch.set_num_threads(1)
        started = time.perf_counter()
        tokens = model.tokenizer([text], truncation=True, max_length=MAX_TOKENS,
                                 return_tensors="pt")
        with torch.inference_mode():
            eager(**tokens)
        timed["eager_one_thread"].append((time.perf_counter() - started) * 1000)
    return timed


async def main(count: int) -> dict[str, object]:
    shipped = load_constitution("base")
    plain = [p.model_copy(update={"checks": tuple(c for c in p.checks if c.semantic is None)})
             for p in shipped.principles]
    from dataclasses import replace

    baseline = replace(shipped, principles=tuple(plain))
    with_semantic = Supervisor(shipped, detectors=local_detectors(shipped))
    without = Supervisor(baseline, detectors=local_detectors(baseline))
    texts = answers(2 * count + 10)
    for ours, theirs in zip(texts[:5], texts[5:10], strict=True):  # warm: models, matrices
        await with_semantic.check_output(ours, prompt="Tell me something useful.")
        await without.check_output(theirs, prompt="Tell me something useful.")
    timed: dict[str, list[float]] = {"with_semantic": [], "baseline": []}
    for index in range(count):
        order = [("with_semantic", with_semantic, texts[10 + 2 * index]),
                 ("baseline", without, texts[11 + 2 * index])]
        for name, supervisor, text in order if index % 2 else reversed(order):
            started = time.perf_counter()
            await supervisor.check_output(text, prompt="Tell me something useful.")
            timed[name].append((time.perf_counter() - started) * 1000)
    detector = shared_semantic().bind(shipped)
    semantic = [p for p in shipped.principles if p.check("semantic")]
    alone = []
    for text in answers(count, seed=11):
        started = time.perf_counter()
        detector.scan(semantic, prompt="Tell me something useful.", text=text)
        alone.append((time.perf_counter() - started) * 1000)
    passes = encoder_passes(detector.encoder, answers(count, seed=17))
    batch = [Exchange("Tell me something useful.", t) for t in answers(32, seed=13)]
    started = time.perf_counter()
    detector.scan_many(semantic, batch)
    batch_ms = (time.perf_counter() - started) * 1000
    return {
        "answers": count, "answer_chars": 1000, "encoder": detector.version,
        "supervision_with_semantic_ms": summary(timed["with_semantic"]),
        "supervision_baseline_ms": summary(timed["baseline"]),
        "added_ms": {"p50": round(percentile(timed["with_semantic"], 50)
                                  - percentile(timed["baseline"], 50), 3)},
        "ratio_p50": round(percentile(timed["with_semantic"], 50)
                           / percentile(timed["baseline"], 50), 2),
        "semantic_scan_alone_ms": summary(alone),
        "encoder_pass_ms": {name: summary(values) for name, values in passes.items()},
        "encoder_pass_ratio_p50": round(percentile(passes["shipped"], 50)
                                        / percentile(passes["eager_one_thread"], 50), 2),
        "scan_many_32_answers_ms_per_answer": round(batch_ms / 32, 3),
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--answers", type=int, default=200)
    figures = asyncio.run(main(parser.parse_args().answers))
    print(json.dumps(figures, indent=2))
    out = Path(__file__).parent / "results" / "semantic.json"
    out.write_text(json.dumps(figures, indent=2) + "\n")
    print(f"saved {out}")
