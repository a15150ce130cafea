"""Ledger throughput: durable appends/s with 64 concurrent appenders (JSONL group commit and
PostgreSQL) beside a naive one-fsync-per-record writer, verify throughput, and proof time
at 1M records. Targets: JSONL >= 20,000/s, PostgreSQL >= 5,000/s, verify >= 50,000/s,
a proof in under 5 ms at 1M records.

    .venv/bin/python bench/ledger.py [--records 20000] [--no-postgres]

`--baseline DIR` measures only the appends, this tree's beside the tree at DIR (e.g.
`git archive 9bd774f | tar -x -C /tmp/base-tree`), each in a fresh process with
PYTHONPATH set to its tree, interleaved for `--rounds` rounds; it prints medians, ratios
and the load average, and saves bench/results/ledger_appends.json.

    .venv/bin/python bench/ledger.py --baseline /tmp/base-tree --rounds 5 --records 20000
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from supervisor.ledger import open_ledger
from supervisor.ledger.canonical import GENESIS, canonical, chain_hash
from supervisor.ledger.merkle import Tree, root_from_proof
from supervisor.settings import Settings

BODY = {"stage": "output", "action": "allow", "released": True, "violated": [],
        "provenance": {"constitution": {"id": "healthcare", "version": "2.1.0",
                                        "sha256": "ab" * 32}},
        "text_sha256": {"prompt": "cd" * 32, "output": "ef" * 32},
        "texts": {"prompt": "What is a normal heart rate?",
                  "output": "Between 60 and 100 beats per minute for most adults."}}
PG = "postgresql://postgres@127.0.0.1:5432/test"


async def appenders(target: str, records: int, key_dir: str, workers: int = 64) -> float:
    settings = Settings(ledger=target, key_dir=key_dir, checkpoint_every=10_000,
                        checkpoint_seconds=3600)
    ledger = await open_ledger(target, settings=settings)
    per = records // workers

    async def worker() -> None:
        for _ in range(per):
            await ledger.append("decision", BODY)

    start = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(workers)))
    elapsed = time.perf_counter() - start
    await ledger.close()
    return per * workers / elapsed


def naive(path: Path, records: int) -> float:
    """The baseline: seal and write each record, then fsync it, one at a time."""
    head = GENESIS
    with path.open("ab") as handle:
        start = time.perf_counter()
        for seq in range(records):
            record = {"seq": seq, "id": str(seq), "ts": "t", "kind": "decision", "body": BODY,
                      "prev_hash": head}
            record["hash"] = head = chain_hash(head, record)
            handle.write(canonical(record) + b"\n")
            handle.flush()
            os.fsync(handle.fileno())
        return records / (time.perf_counter() - start)


def verify_rate(target: str, key_dir: str) -> tuple[float, int]:
    async def run() -> tuple[float, int]:
        ledger = await open_ledger(target, settings=Settings(ledger=target, key_dir=key_dir))
        start = time.perf_counter()
        report = ledger.verify()
        elapsed = time.perf_counter() - start
        ledger.store.close()
        assert report.ok, report.problem
        return report.records / elapsed, report.records
    return asyncio.run(run())


def ledger_proofs(target: str, key_dir: str) -> dict[str, float]:
    """Ledger.prove() on the benchmark ledger: the first call loads it, the rest are warm."""
    async def run() -> dict[str, float]:
        ledger = await open_ledger(target, settings=Settings(ledger=target, key_dir=key_dir))
        ids = [r["id"] for r in ledger.records_in_order() if r["kind"] == "decision"]
        start = time.perf_counter()
        ledger.prove(ids[0])
        first = (time.perf_counter() - start) * 1000
        times = []
        for record_id in ids[:: max(1, len(ids) // 200)]:
            t = time.perf_counter()
            ledger.prove(record_id)
            times.append((time.perf_counter() - t) * 1000)
        ledger.store.close()
        return {"records": len(ids), "first_ms": first, "warm_ms_p50": statistics.median(times)}
    return asyncio.run(run())


def proofs_at(size: int) -> dict[str, float]:
    tree = Tree()
    start = time.perf_counter()
    for i in range(size):
        tree.append(i.to_bytes(32, "big"))
    build = time.perf_counter() - start
    root = tree.root()
    times = []
    for index in range(0, size, size // 200):
        t = time.perf_counter()
        path = tree.proof(index, size)
        times.append((time.perf_counter() - t) * 1000)
        assert root_from_proof(index.to_bytes(32, "big"), index, size, path) == root
    return {"size": size, "build_s": build, "proof_ms_p50": statistics.median(times),
            "proof_ms_max": max(times)}


def drop_tables(conn: Any, table: str) -> None:
    for suffix in ("", "_index", "_fired", "_labels", "_nodes", "_counts", "_escalations",
                   "_backings"):
        conn.execute(f"DROP TABLE IF EXISTS {table}{suffix}")
    conn.execute(f"DROP FUNCTION IF EXISTS {table}_append_only")


def child(store: str, records: int) -> None:
    """One appends measurement in this process, printed as JSON (for --baseline)."""
    import supervisor

    work = Path(tempfile.mkdtemp(prefix="bench-ledger-"))
    if store == "jsonl":
        rate = asyncio.run(appenders(str(work / "jsonl"), records, str(work / "keys")))
    else:
        table = f"bench_{uuid.uuid4().hex[:8]}"
        try:
            rate = asyncio.run(appenders(f"{PG}?table={table}", records, str(work / "keys")))
        finally:
            import psycopg

            with psycopg.connect(PG, autocommit=True) as conn:
                drop_tables(conn, table)
    print(json.dumps({"per_s": rate, "tree": str(Path(supervisor.__file__).parents[1])}))


def fsync_ms(count: int = 200) -> dict[str, float]:
    """A lone writer's write + fdatasync of 4 KB, `count` times: the floor of a batch's
    latency, so of 64 waiting appenders' throughput (64 / latency) unless syncs overlap."""
    with tempfile.TemporaryDirectory(prefix="bench-fsync-") as folder:
        fd = os.open(Path(folder) / "probe", os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        times = []
        try:
            for _ in range(count):
                start = time.perf_counter()
                os.write(fd, b"x" * 4096)
                os.fdatasync(fd)
                times.append((time.perf_counter() - start) * 1000)
        finally:
            os.close(fd)
    times.sort()
    return {"p10": times[count // 10], "median": times[count // 2], "p90": times[count * 9 // 10]}


def compare(baseline: Path, rounds: int, records: int, stores: list[str]) -> None:
    """This tree's appends beside the baseline tree's, interleaved, in fresh processes."""
    here = Path(__file__).resolve().parents[1]
    trees = {"baseline": baseline.resolve(), "this tree": here}
    rates: dict[str, dict[str, list[float]]] = {s: {t: [] for t in trees} for s in stores}
    loads = [os.getloadavg()[0]]
    probe = fsync_ms()
    for number in range(rounds):
        for store in stores:
            order = list(trees.items()) if number % 2 == 0 else list(trees.items())[::-1]
            for name, tree in order:
                env = {**os.environ, "PYTHONPATH": str(tree)}
                out = subprocess.run([sys.executable, __file__, "--child", store, "--records",
                                      str(records)], env=env, check=True, capture_output=True,
                                     text=True).stdout.strip().splitlines()[-1]
                found = json.loads(out)
                assert Path(found["tree"]) == tree, (found["tree"], tree)
                rates[store][name].append(found["per_s"])
                loads.append(os.getloadavg()[0])
    result: dict[str, Any] = {"records": records, "workers": 64, "rounds": rounds,
                              "trees": {k: str(v) for k, v in trees.items()},
                              "load_average_1m": loads, "rates": rates,
                              "fsync_ms": [probe, fsync_ms()]}
    print(f"{records} durable appends from 64 concurrent appenders, {rounds} rounds "
          f"interleaved; load average (1 min) {min(loads):.2f} to {max(loads):.2f}")
    print("  a lone write + fdatasync of 4 KB, before and after: " + "; ".join(
        f"median {p['median']:.2f} ms (p10 {p['p10']:.2f}, p90 {p['p90']:.2f})"
        for p in result["fsync_ms"]))
    for store in stores:
        base = statistics.median(rates[store]["baseline"])
        new = statistics.median(rates[store]["this tree"])
        result[f"{store}_median"] = {"baseline": base, "this tree": new}
        target = "20,000" if store == "jsonl" else "5,000"
        print(f"  {store:<8} baseline {base:>8,.0f}/s   this tree {new:>8,.0f}/s   "
              f"{new / base:.2f}x  (target {target}/s)")
        print(f"           each run: baseline {[round(r) for r in rates[store]['baseline']]},"
              f" this tree {[round(r) for r in rates[store]['this tree']]}")
    out = Path(__file__).parent / "results" / "ledger_appends.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(result, indent=2))
    print(f"saved {out}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--records", type=int, default=20_000)
    parser.add_argument("--proof-size", type=int, default=1_000_000)
    parser.add_argument("--no-postgres", action="store_true")
    parser.add_argument("--baseline", type=Path, help="compare appends with this tree")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--child", choices=["jsonl", "postgres"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.records)
        return
    if args.baseline:
        compare(args.baseline, args.rounds, args.records,
                ["jsonl"] + ([] if args.no_postgres else ["postgres"]))
        return
    work = Path(tempfile.mkdtemp(prefix="bench-ledger-"))
    result: dict[str, Any] = {"records": args.records, "workers": 64}
    result["jsonl_per_s"] = asyncio.run(appenders(str(work / "jsonl"), args.records,
                                                  str(work / "keys")))
    result["naive_fsync_per_s"] = naive(work / "naive.jsonl", min(args.records, 3000))
    result["verify_per_s"], verified = verify_rate(str(work / "jsonl"), str(work / "keys"))
    result["ledger_prove"] = ledger_proofs(str(work / "jsonl"), str(work / "keys"))
    if not args.no_postgres:
        table = f"bench_{uuid.uuid4().hex[:8]}"
        url = f"{PG}?table={table}"
        result["postgres_per_s"] = asyncio.run(appenders(url, args.records, str(work / "keys")))
        import psycopg

        with psycopg.connect(PG, autocommit=True) as conn:
            drop_tables(conn, table)
    result["proof"] = proofs_at(args.proof_size)

    print(f"{args.records} durable appends from 64 concurrent appenders")
    print(f"  JSONL, group commit      {result['jsonl_per_s']:>10,.0f} records/s  (target 20,000)")
    if "postgres_per_s" in result:
        print(f"  PostgreSQL, batched      {result['postgres_per_s']:>10,.0f} records/s  "
              "(target 5,000)")
    print(f"  naive fsync per record   {result['naive_fsync_per_s']:>10,.0f} records/s  "
          f"(group commit is {result['jsonl_per_s'] / result['naive_fsync_per_s']:.1f}x)")
    print(f"verify                     {result['verify_per_s']:>10,.0f} records/s  "
          f"({verified} records; target 50,000)")
    lp = result["ledger_prove"]
    print(f"Ledger.prove on {lp['records']:,} records: first {lp['first_ms']:.0f} ms (loads the "
          f"tree), then p50 {lp['warm_ms_p50']:.3f} ms")
    p = result["proof"]
    print(f"proof at {p['size']:,} records: p50 {p['proof_ms_p50']:.3f} ms, max "
          f"{p['proof_ms_max']:.3f} ms (target < 5 ms); tree built in {p['build_s']:.1f} s")
    out = Path(__file__).parent / "results" / "ledger.json"
    out.write_text(json.dumps(result, indent=2))
    print(f"saved {out}")


if __name__ == "__main__":
    main()
