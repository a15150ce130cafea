"""What `store_text: encrypted` costs per decision record body, against `none`.

Builds N decision bodies (the shape of tests/ledger/test_sealed.py's decision: prompt,
answer, revision, rationale, context) under `none`, under `encrypted` for 100 users
(a user's subject: one key lookup and unwrap per body) and under `encrypted` with no
user_ref (each record its own subject, keys made 256 to a transaction). One thread,
a fresh key store in a temporary folder (fsync as in production).

    PYTHONPATH=. .venv/bin/python bench/sealed_texts.py [N]

Prints bodies per second and saves bench/results/sealed_texts.json.
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from supervisor.ledger.keystore import STORE_NAME, KeyStore, load_master_key
from supervisor.ledger.records import decision_body
from supervisor.ledger.sealed import TextKeys
from tests.ledger.test_sealed import decision


def rate(make: Callable[[int], Any], n: int) -> float:
    start = time.perf_counter()
    for i in range(n):
        make(i)
    return n / (time.perf_counter() - start)


def main(n: int = 5000) -> dict[str, float]:
    folder = Path(tempfile.mkdtemp())
    keys = TextKeys(KeyStore(folder / STORE_NAME,
                             load_master_key(folder / "master.key", configured=False)))
    figures = {
        "none": rate(lambda i: decision_body(decision(), store_text="none"), n),
        "encrypted_100_users": rate(lambda i: decision_body(
            decision(f"user-{i % 100}"), store_text="encrypted", keys=keys), n),
        "encrypted_record_subjects": rate(lambda i: decision_body(
            decision(None), store_text="encrypted", keys=keys), n),
    }
    for name, per_s in figures.items():
        print(f"{name}: {per_s:,.0f} bodies/s ({1e6 / per_s:.0f} us each)")
    out = Path(__file__).parent / "results" / "sealed_texts.json"
    out.write_text(json.dumps({"n": n, "bodies_per_s": figures}, indent=2) + "\n")
    return figures


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 5000)
