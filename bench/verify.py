"""Verify throughput: full sequential, full parallel (every core) and incremental.

Builds a JSONL ledger of decision records quickly (sealed in large batches straight into
the store, a checkpoint signed every 1,000 records as the Ledger makes them), then times
`verify_ledger` from genesis with one process and with `--jobs` processes, and an
incremental run after 10,000 new records. Targets (issue 20): full >= 100k records/s on 2
cores; incremental after 10k new records <= 1 s.

    .venv/bin/python bench/verify.py [--records 1000000] [--jobs N] [--keep DIR [--build-only]]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
from pathlib import Path
from typing import Any

from supervisor.ledger import verify_ledger
from supervisor.ledger.canonical import canonical, seal_line
from supervisor.ledger.jsonl import JsonlStore
from supervisor.ledger.merkle import Frontier
from supervisor.ledger.signing import Signer, statement
from supervisor.settings import Settings

BODY = canonical({"stage": "output", "action": "allow", "released": True, "violated": [],
                  "provenance": {"constitution": {"id": "healthcare", "version": "2.1.0",
                                                  "sha256": "ab" * 32}},
                  "text_sha256": {"prompt": "cd" * 32, "output": "ef" * 32},
                  "texts": {"prompt": "What is a normal heart rate?",
                            "output": "Between 60 and 100 beats per minute for most "
                                      "adults."}})
EVERY = 1000
BATCH = 50_000


def fill(store: JsonlStore, signer: Signer, frontier: Frontier, records: int) -> None:
    """Append `records` decisions, a signed checkpoint after every EVERY of them."""
    left, since = records, 0

    def seal(next_seq: int, head: str) -> list[dict[str, Any]]:
        nonlocal left, since
        sealed: list[dict[str, Any]] = []
        seq = next_seq
        while left and len(sealed) < BATCH:
            ts = "2026-12-02T06:00:00.000000Z"
            digest, line = seal_line(seq, f"r{seq:09d}", ts, "decision", BODY, head)
            sealed.append({"seq": seq, "hash": digest, "line": line, "kind": "decision"})
            frontier.append(bytes.fromhex(digest))
            head, seq, left, since = digest, seq + 1, left - 1, since + 1
            if since == EVERY or not left:
                signed = statement(seq, frontier.root().hex(), head, ts)
                body = {**signed, "signature": signer.sign(signed), "key_id": signer.key_id}
                digest, line = seal_line(seq, f"c{seq:09d}", ts, "checkpoint",
                                         canonical(body), head)
                sealed.append({"seq": seq, "hash": digest, "line": line,
                               "kind": "checkpoint"})
                frontier.append(bytes.fromhex(digest))
                head, seq, since = digest, seq + 1, 0
        return sealed

    while left:
        store.append(seal)


def timed(target: str, settings: Settings, **options: Any) -> tuple[float, Any]:
    start = time.perf_counter()
    report, _ = verify_ledger(target, settings=settings, **options)
    elapsed = time.perf_counter() - start
    if not report.ok:
        raise SystemExit(f"verify failed: {report.problem}")
    return elapsed, report


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--new", type=int, default=10_000)
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--keep", help="build (or reuse) the ledger in this folder")
    parser.add_argument("--build-only", action="store_true",
                        help="build the --keep ledger and stop (time it later, on a quiet machine)")
    args = parser.parse_args()
    folder = Path(args.keep or tempfile.mkdtemp(prefix="verify-bench-"))
    target = str(folder / "ledger")
    settings = Settings(ledger=target, checkpoint_every=EVERY, checkpoint_seconds=3600)
    signer = Signer(folder / "ledger" / "keys")
    frontier = Frontier()
    store = JsonlStore(folder / "ledger")
    start = time.perf_counter()
    if store.next_seq == 0:
        fill(store, signer, frontier, args.records)
    build = time.perf_counter() - start
    if args.build_only:
        print(f"built {store.next_seq:,} records in {build:.0f} s: {folder}")
        return
    total = store.next_seq
    state = folder / "verify-state.json"
    state.unlink(missing_ok=True)

    sequential, _ = timed(target, settings, full=True, jobs=1)
    parallel, _ = timed(target, settings, full=True, jobs=args.jobs, state=state)
    if frontier.size != total:  # a reused ledger: rebuild the frontier to append to it
        from supervisor.ledger.merkle import Tree

        tree = Tree()
        for line in store.lines():
            tree.append(bytes.fromhex(json.loads(line)["hash"]))
        frontier = Frontier.of_tree(tree, total)
    fill(store, signer, frontier, args.new)
    store.close()
    incremental, report = timed(target, settings, state=state)
    result = {
        "records": total, "new_records": store.next_seq - total,
        "build_s": round(build, 2),
        "full_sequential": {"seconds": round(sequential, 2),
                            "records_per_s": round(total / sequential)},
        "full_parallel": {"jobs": args.jobs, "seconds": round(parallel, 2),
                          "records_per_s": round(total / parallel)},
        "incremental": {"seconds": round(incremental, 3), "read_from_seq": report.start,
                        "records_after": report.records},
        "targets": {"full_records_per_s": 100_000, "incremental_s": 1.0},
        "cores": os.cpu_count(), "load_average_1m": round(os.getloadavg()[0], 2),
        "python": platform.python_version(),
        "ledger_bytes": sum(p.stat().st_size for p in (folder / "ledger").glob("*.jsonl")),
    }
    print(json.dumps(result, indent=2))
    out = Path(__file__).parent / "results" / "verify.json"
    out.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
