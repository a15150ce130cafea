"""Latency of local supervision (pii + pattern on the healthcare constitution) for
1,000-character answers, beside bare Presidio `AnalyzerEngine().analyze` on the same texts.

Both run in this process, pinned to one core, on the same 20 generated answers, warmed
first. Target: p50 <= 25 ms on one core and no more than 1.2x bare Presidio. (Anchor: LLM
Guard's CPU "basic" input scan, Anonymize + Secrets, 220 ms mean on an m5.large.)

    .venv/bin/python bench/local_checks.py [--runs 300]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import time
from pathlib import Path
from typing import Any

from supervisor.constitution import load_constitution
from supervisor.detectors.pattern import PatternDetector
from supervisor.detectors.pii import shared_pii

SENTENCES = [
    "Your blood pressure reading of 142/91 is above the usual target.",
    "Most adults need seven to nine hours of sleep a night.",
    "Metformin is usually taken with meals to reduce stomach upset.",
    "Call the clinic at 617-555-0148 if the swelling gets worse.",
    "Dr. Alicia Romero will review the imaging on Thursday.",
    "The patient's MRN 00482913 is linked to the referral.",
    "Ibuprofen should be taken as the label directs, with food.",
    "A fever above 39 C that lasts more than three days needs a visit.",
    "Stretching twice a day can ease lower back stiffness.",
    "Send your questions to care.team@clinic.org and we will reply within a day.",
    "Keep a diary of your symptoms, meals and medication times.",
    "If you notice chest pain or numbness, call emergency services.",
    "The pharmacy can explain how to store insulin pens.",
    "Your next appointment is on 12 March at the Riverside clinic.",
    "Vaccines are reviewed every year by the advisory committee.",
]


def answers(count: int = 20, size: int = 1000, seed: int = 11) -> list[str]:
    rng = random.Random(seed)
    made = []
    for _ in range(count):
        parts: list[str] = []
        while sum(len(p) + 1 for p in parts) < size:
            parts.append(rng.choice(SENTENCES))
        made.append(" ".join(parts)[:size])
    return made


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def measure(runs: int) -> dict[str, Any]:
    os.sched_setaffinity(0, {0})
    constitution = load_constitution("healthcare")
    principles = constitution.stage("output")
    pii, pattern = shared_pii(), PatternDetector()
    pii.warm()
    from presidio_analyzer import AnalyzerEngine
    from presidio_analyzer.nlp_engine import NlpEngineProvider

    from supervisor.detectors.pii import spacy_model_path

    # Presidio's own defaults (full spaCy pipeline, every predefined recognizer, all
    # entities), on the same packaged model: its default en_core_web_lg would download
    engine = NlpEngineProvider(nlp_configuration={
        "nlp_engine_name": "spacy",
        "models": [{"lang_code": "en", "model_name": str(spacy_model_path())}]}).create_engine()
    bare = AnalyzerEngine(nlp_engine=engine)
    texts = answers()
    pii_principles = [p for p in principles if "pii" in p.kinds()]
    pattern_principles = [p for p in principles if "pattern" in p.kinds()]

    def ours(text: str) -> None:
        pii.scan(pii_principles, prompt="What should I do?", text=text)
        pattern.scan(pattern_principles, prompt="What should I do?", text=text)

    def theirs(text: str) -> None:
        bare.analyze(text, language="en")

    for text in texts * 3:
        ours(text)
        theirs(text)
    timings: dict[str, list[float]] = {"ours": [], "bare": []}
    for i in range(runs):
        text = texts[i % len(texts)]
        for name, fn in (("ours", ours), ("bare", theirs)) if i % 2 else (
                ("bare", theirs), ("ours", ours)):
            start = time.perf_counter()
            fn(text)
            timings[name].append((time.perf_counter() - start) * 1000)
    result = {name: {"p50": pct(v, 0.5), "p99": pct(v, 0.99)} for name, v in timings.items()}
    return {"runs": runs, "chars": len(texts[0]), "cores": 1, **result,
            "ratio_p50": result["ours"]["p50"] / result["bare"]["p50"],
            "targets": {"p50_ms": 25.0, "ratio": 1.2}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=300)
    result = measure(parser.parse_args().runs)
    print(f"{result['runs']} runs, {result['chars']}-character answers, one core")
    print(f"{'':34}{'p50 ms':>9}{'p99 ms':>9}")
    print(f"{'ours: pii + pattern (healthcare)':34}{result['ours']['p50']:>9.2f}"
          f"{result['ours']['p99']:>9.2f}")
    print(f"{'bare Presidio analyze':34}{result['bare']['p50']:>9.2f}"
          f"{result['bare']['p99']:>9.2f}")
    print(f"ratio p50 ours/bare: {result['ratio_p50']:.2f} (target <= 1.2); p50 target 25 ms: "
          f"{'met' if result['ours']['p50'] <= 25 else 'MISSED'}")
    out = Path(__file__).parent / "results" / "local_checks.json"
    out.write_text(json.dumps(result, indent=2))
    print(f"saved {out}")


if __name__ == "__main__":
    main()
