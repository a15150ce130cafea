"""What the semantic detector adds to a supervision, on the warm path, per 1,000-char answer.

Two Supervisors over the same answers in the same run: `base` as shipped (pattern, pii
and semantic checks) and `base` with its semantic checks removed (the baseline). Each
answer is a distinct 1,000-character text (the encoder caches texts it has seen, so a
repeated text would measure the cache, not the model). Both are warmed first, then the
runs alternate so drift on a shared machine touches both alike. Also timed: the semantic
detector's `scan` alone, and a batch of 32 answers through `scan_many`.

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


async def main(count: int) -> dict[str, object]:
    shipped = load_constitution("base")
    plain = [p.model_copy(update={"checks": tuple(c for c in p.checks if c.semantic is None)})
             for p in shipped.principles]
    from dataclasses import replace

    baseline = replace(shipped, principles=tuple(plain))
    with_semantic = Supervisor(shipped, detectors=local_detectors(shipped))
    without = Supervisor(baseline, detectors=local_detectors(baseline))
    texts = answers(count + 10)
    for text in texts[:5]:  # warm both: model load, spaCy, exemplar matrices
        await with_semantic.check_output(text, prompt="Tell me something useful.")
        await without.check_output(text, prompt="Tell me something useful.")
    timed: dict[str, list[float]] = {"with_semantic": [], "baseline": []}
    for index, text in enumerate(texts[10:]):
        order = [("with_semantic", with_semantic), ("baseline", without)]
        for name, supervisor in order if index % 2 else reversed(order):
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
    batch = [Exchange("Tell me something useful.", t) for t in answers(32, seed=13)]
    started = time.perf_counter()
    detector.scan_many(semantic, batch)
    batch_ms = (time.perf_counter() - started) * 1000
    added = [a - b for a, b in zip(timed["with_semantic"], timed["baseline"], strict=True)]
    return {
        "answers": count, "answer_chars": 1000, "encoder": detector.version,
        "supervision_with_semantic_ms": summary(timed["with_semantic"]),
        "supervision_baseline_ms": summary(timed["baseline"]),
        "added_ms": summary(added),
        "ratio_p50": round(percentile(timed["with_semantic"], 50)
                           / percentile(timed["baseline"], 50), 2),
        "semantic_scan_alone_ms": summary(alone),
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
