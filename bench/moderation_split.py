"""Where one `/v1/moderations` request spends its time, step by step, on fresh text.

Runs the steps the route runs, one after the other in this process, each timed alone
(wall and this thread's CPU), for `--runs` fresh texts (the http bench's texts with a
new reference each, so no cache answers): request parsing, the surrogate walk, each
detector's scan (PII split into spaCy's pass and Presidio's recognizers), policy, the
record body (redaction of the stored texts), the durable append (seal, write, fsync),
and the response. The base constitution, a durable JSONL ledger in a scratch folder.
Prints medians and saves bench/results/moderation_split[-NAME].json.

`--tree DIR` imports `supervisor` and `api` from another source tree (e.g. an older
commit from `git archive`), so two trees can be run one after the other, alternately,
under the same load; `--name` labels the saved file.

    .venv/bin/python bench/moderation_split.py [--runs 200] [--tree DIR --name base]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

ROOT = Path(__file__).resolve().parent.parent
# the tree under test: this one, or the one after --tree (read before argparse runs,
# since the imports below and in main() come from it)
TREE = Path(sys.argv[sys.argv.index("--tree") + 1]).resolve() if "--tree" in sys.argv \
    else ROOT
sys.path.insert(0, str(TREE))
sys.path.insert(0, str(ROOT / "bench"))

from http_service import TEXTS  # noqa: E402

T = TypeVar("T")


class Clock:
    """Wall and thread-CPU milliseconds per named step, over many runs."""

    def __init__(self) -> None:
        self.wall: dict[str, list[float]] = {}
        self.cpu: dict[str, list[float]] = {}

    def time(self, name: str, work: Callable[[], T]) -> T:
        wall, cpu = time.perf_counter(), time.thread_time()
        out = work()
        self.wall.setdefault(name, []).append((time.perf_counter() - wall) * 1000)
        self.cpu.setdefault(name, []).append((time.thread_time() - cpu) * 1000)
        return out

    def rows(self) -> list[dict[str, Any]]:
        total = sum(statistics.mean(v) for v in self.wall.values())
        return [{"step": name, "wall_p50_ms": round(statistics.median(v), 3),
                 "wall_mean_ms": round(statistics.mean(v), 3),
                 "cpu_mean_ms": round(statistics.mean(self.cpu[name]), 3),
                 "share": round(statistics.mean(v) / total, 3)}
                for name, v in self.wall.items()]


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--tree", help="source tree to import supervisor and api from")
    parser.add_argument("--name", default="", help="label of the saved results")
    args = parser.parse_args()
    _check_tree()
    load_before = os.getloadavg()

    from supervisor.constitution import load_constitution
    from supervisor.detectors import detectors_for, preload
    from supervisor.ledger import open_ledger
    from supervisor.pipeline import Supervisor
    from supervisor.settings import Settings

    scratch = tempfile.mkdtemp(prefix="bench-split-")
    ledger = await open_ledger(settings=Settings(ledger=f"{scratch}/ledger"))
    constitution = load_constitution("base")
    preload(constitution)
    detectors = detectors_for(constitution)
    supervisor = Supervisor(constitution, ledger=ledger, detectors=detectors)
    await supervisor.load()
    await supervisor.moderate("A short warm-up answer.")
    principles = constitution.stage("output")
    clock = Clock()
    for run in range(args.runs):
        await _one(clock, f"{TEXTS[run % len(TEXTS)]} (Ref split-{run}.)", detectors,
                   principles, supervisor, ledger)
    await ledger.close()
    rows = clock.rows()
    load = {"before": load_before, "after": os.getloadavg()}
    print(f"one /v1/moderations request, {args.runs} fresh texts, base constitution, "
          f"steps run one after the other in one thread; tree {TREE}; load average "
          f"{load['before'][0]:.2f} before, {load['after'][0]:.2f} after (1 min)")
    print(f"{'step':<58} {'p50 ms':>8} {'mean ms':>8} {'cpu ms':>8} {'share':>6}")
    for row in rows:
        print(f"{row['step']:<58} {row['wall_p50_ms']:>8} {row['wall_mean_ms']:>8} "
              f"{row['cpu_mean_ms']:>8} {row['share']:>6.1%}")
    total = sum(r["wall_mean_ms"] for r in rows)
    cpu = sum(r["cpu_mean_ms"] for r in rows)
    print(f"{'total':<58} {'':>8} {total:>8.2f} {cpu:>8.2f}")
    out = ROOT / "bench" / "results" / \
        f"moderation_split{'-' + args.name if args.name else ''}.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps({"runs": args.runs, "tree": str(TREE), "load_average": load,
                               "rows": rows}, indent=2))
    print(f"saved {out}")


def _check_tree() -> None:
    """Stop when `supervisor` was imported from another tree than the one asked for."""
    import supervisor

    if Path(supervisor.__file__).resolve().parents[1] != TREE:
        raise SystemExit(f"supervisor came from {supervisor.__file__}, not {TREE}")


async def _one(clock: Clock, text: str, detectors: dict[str, Any], principles: Any,
               supervisor: Any, ledger: Any) -> None:
    """One request's steps on `text`, each timed."""
    from api.refusals import invalid_text
    from api.routes.moderation import result
    from api.schemas import ModerationRequest
    from supervisor.detectors.normal import normalise
    from supervisor.ledger.canonical import canonical
    from supervisor.ledger.records import decision_body
    from supervisor.policy import decide

    constitution = supervisor.constitution
    raw = json.dumps({"input": text}).encode()
    body = clock.time("request: pydantic parse",
                      lambda: ModerationRequest.model_validate_json(raw))
    clock.time("request: surrogate walk", lambda: invalid_text(body))
    found: dict[str, Any] = {}
    for kind, detector in detectors.items():
        subset = [p for p in principles if kind in p.kinds()]
        if not subset:
            continue
        if kind == "pii":  # the pass alone (what the scan then finds kept)
            clock.time("pii: spaCy pass", partial(detector._analysis, normalise(text).text))
        found[kind] = clock.time(
            f"{kind}: scan" + (" (Presidio recognizers, spaCy cached)" if kind == "pii"
                               else ""),
            partial(detector.scan, subset, prompt="", text=text))
    decision = clock.time("policy: verdicts + decide + conclude",
                          lambda: _conclude(supervisor, principles, found, text, decide))
    store_text = constitution.defaults.store_text
    record = clock.time("ledger: record body (redaction)",
                        lambda: decision_body(decision, store_text=store_text))
    clock.time("ledger: canonical JSON", lambda: canonical(record))
    receipt = await _timed_async(clock, "ledger: append (seal, write, fsync)",
                                 ledger.append("decision", record))
    clock.time("response: result + JSON", lambda: json.dumps(
        {"results": [result(decision, constitution)], "id": receipt.id}).encode())


async def _timed_async(clock: Clock, name: str, work: Any) -> Any:
    wall = time.perf_counter()
    out = await work
    clock.wall.setdefault(name, []).append((time.perf_counter() - wall) * 1000)
    clock.cpu.setdefault(name, []).append(0.0)  # in the ledger's writer thread
    return out


def _conclude(supervisor: Any, principles: Any, found: dict[str, Any], text: str,
              decide: Any) -> Any:
    from supervisor.decision import Verdict
    from supervisor.pipeline import _local_verdict

    merged: dict[str, tuple[Any, ...]] = {}
    for result in found.values():
        for pid, hits in result.items():
            merged[pid] = merged.get(pid, ()) + tuple(hits)
    verdicts = [_local_verdict(p, merged[p.id]) if merged.get(p.id) else
                Verdict(p.id, False, 0.5, "no local check found a violation", source="local")
                for p in principles]
    ruling = decide(verdicts, supervisor.constitution)
    return supervisor._conclude("output", prompt="", original=text, current=text,
                                ruling=ruling, verdicts=tuple(verdicts), context={})


if __name__ == "__main__":
    asyncio.run(main())
