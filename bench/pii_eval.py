"""PII recall and precision per entity type on ../shared/eval/presidio-synth (750 texts).

Prints a table and saves bench/results/pii_eval.json. Target (issue 8): recall >= 0.85
over PERSON, CREDIT_CARD, EMAIL_ADDRESS, PHONE_NUMBER, US_SSN and IBAN_CODE together.

    .venv/bin/python bench/pii_eval.py
"""

from __future__ import annotations

import json
from pathlib import Path

from supervisor.evaluation.pii import load_synth, score_pii, table


def main() -> None:
    scores = score_pii(load_synth())
    for line in table(scores):
        print(line)
    out = Path(__file__).parent / "results" / "pii_eval.json"
    out.write_text(json.dumps({
        "samples": scores.samples, "target_recall": scores.target_recall,
        "latency_ms": {"p50": scores.latency_p50_ms, "p95": scores.latency_p95_ms},
        "entities": [{"entity": e.entity, "ours": e.ours, "gold": e.gold, "recall": e.recall,
                      "precision": e.precision} for e in scores.entities]}, indent=2))
    print(f"saved {out}")


if __name__ == "__main__":
    main()
