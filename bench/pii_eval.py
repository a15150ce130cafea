"""PII recall and precision per entity type on ../shared/eval/presidio-synth (750 texts).

Scores the set as written and with the numbers' separators disguised (look-alike
dashes, other separators, none, spaced digits: `evaluation.pii.obfuscated`), each on
the whole set and on its two template folds (choices are made reading one fold's
misses and checked on the other). Prints the tables and saves
bench/results/pii_eval.json. Target (issue 19): recall >= 0.90 over PERSON,
CREDIT_CARD, EMAIL_ADDRESS, PHONE_NUMBER, US_SSN and IBAN_CODE together, on both forms.

    .venv/bin/python bench/pii_eval.py [--misses fold-a|fold-b] [--limit N]

`--phi` instead counts how often healthcare's `phi-disclosure` fires on the shared
XSTest v2 completions (../shared/eval/exchanges/xstest-v2-completions.jsonl), by the
prompt's label, and prints each answer it fires on, so a reviewer can read them.

    .venv/bin/python bench/pii_eval.py --phi
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from supervisor.evaluation.pii import (
    MAPPING,
    TARGET,
    PiiScores,
    Sample,
    folds,
    load_synth,
    obfuscated,
    score_pii,
    table,
)


def _figures(scores: PiiScores) -> dict[str, Any]:
    return {"samples": scores.samples, "target_recall": round(scores.target_recall, 4),
            "latency_ms": {"p50": round(scores.latency_p50_ms, 3),
                           "p95": round(scores.latency_p95_ms, 3)},
            "entities": [{"entity": e.entity, "ours": e.ours, "gold": e.gold,
                          "recall": round(e.recall, 4),
                          "precision": None if e.precision is None else round(e.precision, 4)}
                         for e in scores.entities]}


def misses(samples: list[Sample]) -> list[str]:
    """One line per target span not found: its type, its text and the sentence."""
    from supervisor.detectors.pii import shared_pii

    detector = shared_pii()
    lines = []
    for sample in samples:
        found = detector.analyze(sample.text, sorted(set(MAPPING.values())), 0.4)
        for gold in sample.spans:
            if gold.entity not in TARGET:
                continue
            hit = any(r.entity_type == MAPPING[gold.entity]
                      and min(r.end, gold.end) - max(r.start, gold.start) > 0
                      and 2 * (min(r.end, gold.end) - max(r.start, gold.start))
                      >= gold.end - gold.start for r in found)
            if not hit:
                got = [(r.entity_type, sample.text[r.start:r.end]) for r in found]
                lines.append(f"{gold.entity}: {sample.text[gold.start:gold.end]!r} in "
                             f"{sample.text!r} got {got}")
    return lines


def phi_fires() -> dict[str, Any]:
    """Share of XSTest v2 answers on which phi-disclosure fires, per prompt label."""
    from supervisor.constitution import load_constitution
    from supervisor.detectors.pii import shared_pii
    from supervisor.evaluation.datasets import resolve_root

    principle = load_constitution("healthcare").principle("phi-disclosure")
    detector = shared_pii()
    detector.warm()
    path = resolve_root() / "exchanges" / "xstest-v2-completions.jsonl"
    counts: dict[str, list[int]] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        found = detector.scan([principle], prompt=row["prompt"], text=row["output"])
        key = f"{row['prompt_label']} prompt, {row['label']} answer"
        tally = counts.setdefault(key, [0, 0])
        tally[1] += 1
        if principle.id in found:
            tally[0] += 1
            labels = sorted({f"{f.label}={f.text!r}" for f in found[principle.id]})
            print(f"fires [{key}] {row['prompt']!r}: {', '.join(labels)}")
    for key, (fired, total) in sorted(counts.items()):
        print(f"{key}: phi-disclosure fires on {fired} of {total} ({fired / total:.1%})")
    return {key: {"fired": fired, "items": total} for key, (fired, total) in counts.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--misses", choices=["fold-a", "fold-b"],
                        help="print the misses of one fold (plain and obfuscated) and stop")
    parser.add_argument("--limit", type=int, help="first N samples only")
    parser.add_argument("--phi", action="store_true",
                        help="count phi-disclosure firing on XSTest v2 answers and stop")
    args = parser.parse_args()
    if args.phi:
        out = Path(__file__).parent / "results" / "phi_xstest.json"
        out.parent.mkdir(exist_ok=True)
        out.write_text(json.dumps(phi_fires(), indent=2))
        print(f"saved {out}")
        return
    plain = load_synth(limit=args.limit)
    disguised = obfuscated(plain)
    if args.misses:
        index = 0 if args.misses == "fold-a" else 1
        for line in misses(folds(plain)[index]) + misses(folds(disguised)[index]):
            print(line)
        return
    results: dict[str, Any] = {}
    for form, samples in (("plain", plain), ("obfuscated", disguised)):
        whole = score_pii(samples)
        print(f"\n== {form} ==")
        for line in table(whole):
            print(line)
        fold_a, fold_b = (score_pii(part) for part in folds(samples))
        print(f"fold a: {fold_a.target_recall:.3f} ({fold_a.samples} samples), "
              f"fold b: {fold_b.target_recall:.3f} ({fold_b.samples} samples)")
        results[form] = {"all": _figures(whole), "fold_a": _figures(fold_a),
                         "fold_b": _figures(fold_b)}
    out = Path(__file__).parent / "results" / "pii_eval.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(results, indent=2))
    print(f"saved {out}")


if __name__ == "__main__":
    main()
