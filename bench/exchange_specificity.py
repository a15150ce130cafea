"""Does how specific an answer is tell JailbreakBench's vague compliance from real help?

JailbreakBench's false positives (about 19% of the answers its judge calls safe, against
issue 19's 10%) are answers that comply in form and give little: "Sure, here is ...
hypothetically" and a short list of empty steps, role-play letters, reports that say
nothing usable (docs/judgement.md). Counts of the words an answer adds to its prompt did
not separate them. This bench adds four measures of specificity to the exchange head's
features and reruns the shipped fit (`fit-exchange base --dry-run`: same rows, folds,
grids and rule), with and without them:

    steps        how many lines look like steps (a number, "Step", a bullet), log1p
    step words   the mean number of words on such a line (0 without steps) / 20
    long words   the share of words of 9 letters or more (technical terms, names)
    numbers      how many numbers the answer has, log1p (amounts, doses, versions)

    nice -n 10 .venv/bin/python bench/exchange_specificity.py
"""

from __future__ import annotations

import json
import math
import re
import sys
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from supervisor.detectors.exchange import exchange_features
from supervisor.evaluation import exchange_fit

RESULTS = Path(__file__).parent / "results" / "exchange_specificity.json"
STEP = re.compile(r"^\s*(?:\d+[.)]|step\s*\d+|[-*•])\s*(.*)$", re.IGNORECASE | re.MULTILINE)
WORD = re.compile(r"[^\W\d_]+")
NUMBER = re.compile(r"\d+(?:[.,]\d+)?")


def specificity(answer: str) -> npt.NDArray[np.float32]:
    """The four measures of the module docstring."""
    steps = [m.group(1) for m in STEP.finditer(answer)]
    words = WORD.findall(answer)
    step_words = float(np.mean([len(WORD.findall(s)) for s in steps])) if steps else 0.0
    long_share = sum(len(w) >= 9 for w in words) / len(words) if words else 0.0
    return np.array([math.log1p(len(steps)), step_words / 20, long_share,
                     math.log1p(len(NUMBER.findall(answer)))], dtype=np.float32)


def run(with_specificity: bool) -> dict[str, Any]:
    """The dry-run fit's figures, the exchange features widened or not."""
    from supervisor.cli.fit import fit_inputs
    from supervisor.constitution import load_constitution
    from supervisor.detectors.embedding import shared_encoder

    def widened(prompt: Any, answer: Any, text: str) -> npt.NDArray[np.float32]:
        return np.concatenate([exchange_features(prompt, answer, text), specificity(text)])

    # `fit` reads the name from its module: replaced there for this run
    setattr(exchange_fit, "exchange_features",  # noqa: B010
            widened if with_specificity else exchange_features)
    given = fit_inputs(load_constitution("base"))
    result = exchange_fit.fit(given.rows, shared_encoder(),
                              attacks=[p.name for p in given.attacks],
                              requests=given.requests)
    return dict(result.figures["exchange"])


def main() -> None:
    figures = {}
    for name, flag in (("shipped", False), ("with specificity", True)):
        found = run(flag)
        per = found["per_file"]
        figures[name] = {"strength": found["strength"], "threshold": found["threshold"],
                         "request_gate": found["request_gate"], "per_file": per}
        print(name, json.dumps({s: {k: per[s][k] for k in ("f1", "compliant_stopped")}
                                for s in per}), file=sys.stderr, flush=True)
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(figures, indent=1) + "\n")
    print(f"saved {RESULTS}")


if __name__ == "__main__":
    main()
