"""Audit reads on a big JSONL ledger, before (a full scan through `Filter`, as every page
did) and after (the SQLite sidecar index): first page filtered by action and time, one
record by id, the review queue; the index's build time and size, and a catch-up.

    .venv/bin/python bench/ledger_reads.py [--records 300000] [--runs 5]

The ledger is written directly (`seal_records` + `JsonlStore.append` in big batches):
three weeks of an app making 10 decisions a minute, with reviews of some escalations.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from api.reviews import open_escalations
from supervisor.ledger.canonical import canonical
from supervisor.ledger.export import Filter
from supervisor.ledger.ids import new_id
from supervisor.ledger.index import SIDECAR, Query, ScanQuery, SqliteIndex
from supervisor.ledger.jsonl import JsonlStore, seal_records

ACTIONS = ["allow"] * 80 + ["revise"] * 10 + ["block"] * 5 + ["escalate"] * 4 + ["error"]
START = datetime(2026, 11, 1, tzinfo=UTC)
TEXT = ("Between 60 and 100 beats per minute is normal for most adults at rest; see a "
        "doctor if yours is often above or below that range. ") * 3


def body(rng: random.Random) -> dict[str, Any]:
    action = rng.choice(ACTIONS)
    violated = [rng.choice(["phi-disclosure", "emergency-referral", "dosage"])] \
        if action in ("block", "escalate") else []
    return {
        "stage": rng.choice(["input", "output", "output"]), "action": action,
        "released": action in ("allow", "revise"), "reason": f"{action} by policy",
        "violated": violated, "flags": [], "unevaluated": [],
        "provenance": {"constitution": {"id": "healthcare", "version": rng.choice(
            ["2.0.0", "2.1.0"]), "sha256": "ab" * 32}},
        "context": {"app_id": rng.choice(["clinic", "pharmacy", "triage"]),
                    "user_ref": f"user-{rng.randrange(5000)}"},
        "text_sha256": {"prompt": "cd" * 32, "original": "ef" * 32, "output": "ef" * 32},
        "texts": {"prompt": "What is a normal heart rate?", "original": TEXT, "output": TEXT},
        "revisions": [{"round": 1, "principles": ["phi-disclosure"]}]
        if action == "revise" else [],
        "verdicts": [{"principle": "phi-disclosure", "violated": bool(violated),
                      "confidence": 0.9, "rationale": "no identifier", "evidence": []}],
    }


def build(folder: Path, records: int, batch: int = 20_000) -> tuple[JsonlStore, float]:
    """Write `records` decision records (and reviews of one escalation in ten)."""
    rng = random.Random(20)
    store = JsonlStore(folder)
    step = timedelta(weeks=3) / records
    started = time.perf_counter()
    pending: list[tuple[str, str, str, bytes]] = []
    for i in range(records):
        ts = (START + step * i).isoformat(timespec="microseconds").replace("+00:00", "Z")
        content = body(rng)
        record_id = new_id()
        pending.append((record_id, ts, "decision", canonical(content)))
        if content["action"] == "escalate" and rng.random() < 0.1:
            pending.append((new_id(), ts, "review", canonical(
                {"decision": record_id, "verdict": "agree", "reviewer": "ann"})))
        if len(pending) >= batch:
            store.append(seal_records(pending))
            pending = []
    if pending:
        store.append(seal_records(pending))
    return store, time.perf_counter() - started


def timed(work: Callable[[], Any], runs: int) -> dict[str, float]:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        work()
        times.append((time.perf_counter() - started) * 1000)
    return {"p50_ms": statistics.median(times), "max_ms": max(times)}


def reads(query: Query, record_id: str, runs: int) -> dict[str, dict[str, float]]:
    keep = Filter(action="block", since="2026-11-15", until="2026-11-21")
    return {
        "page_block_in_week": timed(lambda: query.page(keep, limit=50), runs),
        "page_unfiltered": timed(lambda: query.page(Filter(kind="decision"), limit=50), runs),
        "get_by_id": timed(lambda: query.get(record_id), runs),
        "queue": timed(lambda: open_escalations(query.escalations(), {}), runs),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--records", type=int, default=300_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--scan-runs", type=int, default=5, help="runs of each full scan")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="bench-reads-"))
    store, written = build(folder, args.records)
    size = store.next_seq
    middle = json.loads(next(store.lines(size // 2)))["id"]
    result: dict[str, Any] = {"records": size, "decisions": args.records,
                              "write_s": written, "runs": args.runs,
                              "ledger_mb": sum(p.stat().st_size for p in store.segments()) / 1e6}
    started = time.perf_counter()
    index = SqliteIndex(store)
    index.refresh()
    result["index_build_s"] = time.perf_counter() - started
    result["sidecar_mb"] = sum(p.stat().st_size for p in folder.glob(f"{SIDECAR}*")) / 1e6
    result["after"] = reads(index, middle, args.runs)
    more, _ = 10_000, None
    store.append(seal_records([(new_id(), "2026-11-22T00:00:00.000000Z", "decision",
                                canonical(body(random.Random(i)))) for i in range(more)]))
    started = time.perf_counter()
    index.refresh()
    result["catch_up_10k_s"] = time.perf_counter() - started
    index.close()
    started = time.perf_counter()
    reopened = SqliteIndex(store)
    reopened.refresh()
    result["reopen_ms"] = (time.perf_counter() - started) * 1000
    reopened.close()
    result["scan_runs"] = args.scan_runs
    result["before"] = reads(ScanQuery(store), middle, args.scan_runs)
    store.close()

    print(f"{size:,} records ({result['ledger_mb']:.0f} MB of JSONL), median of "
          f"{args.scan_runs} (scan) and {args.runs} (index)")
    print(f"{'operation':<22}{'before (scan)':>16}{'after (index)':>16}")
    for name in result["after"]:
        print(f"{name:<22}{result['before'][name]['p50_ms']:>13,.1f} ms"
              f"{result['after'][name]['p50_ms']:>13,.1f} ms")
    print(f"index build {result['index_build_s']:.1f} s, sidecar {result['sidecar_mb']:.0f} MB, "
          f"catch-up of 10k records {result['catch_up_10k_s']:.2f} s, reopen "
          f"{result['reopen_ms']:.1f} ms")
    out = Path(__file__).parent / "results" / "ledger_reads.json"
    out.write_text(json.dumps(result, indent=2))
    print(f"saved {out}")


if __name__ == "__main__":
    main()
