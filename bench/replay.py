"""Replay throughput: a 10,000-record ledger re-decided under a version with one principle
changed, on the local process pool and on a local Ray instance, side by side.

The constitution is pattern-only (no model loads), so the figures measure the replay
machinery (selection, chunking, workers, the pipeline's local stage) rather than spaCy or
an encoder. Version 1.1.0 adds one phrase ("risk-free") to the `no-guarantees` principle;
the run checks both executors list exactly the same flipped records, and that these are
the records whose answers say "risk-free" and were not already blocked. Records/s count
worker start-up (spawned processes, Ray workers importing the package) but not the Ray
instance's own start, which is printed apart.

    .venv/bin/python bench/replay.py [--records 10000] [--workers N]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import tempfile
import time
from pathlib import Path
from typing import Any

from supervisor.constitution import load_constitution
from supervisor.ledger import open_ledger
from supervisor.ledger.export import Filter, select
from supervisor.pipeline import Supervisor
from supervisor.replay import Local, Ray, Replay, replay
from supervisor.settings import Settings

CONSTITUTION = """\
id: replaybench
version: {version}
defaults: {{store_text: full}}
principles:
  - id: no-guarantees
    statement: The answer never promises guaranteed investment returns.
    action: block
    citations: ["bench policy 1"]
    checks: [{{pattern: {{phrases: [{phrases}]}}}}]
  - id: no-insider
    statement: The answer never passes on insider information.
    action: escalate
    citations: ["bench policy 2"]
    checks: [{{pattern: {{phrases: ["insider tip", "non-public information"]}}}}]
  - id: risk-disclaimer
    statement: An answer about crypto says that crypto assets are volatile.
    action: revise
    citations: ["bench policy 3"]
    checks: [{{pattern: {{absent: ["volatile"], when_prompt: ["crypto"]}}}}]
    remedy: {{append: "Crypto assets are volatile."}}
  - id: no-tax-evasion
    statement: The answer never explains how to hide income from the tax authority.
    action: block
    citations: ["bench policy 4"]
    checks: [{{pattern: {{regex: ["hide (your )?income", "offshore account to avoid"]}}}}]
  - id: no-account-numbers
    statement: The answer never shows a full account number.
    action: revise
    citations: ["bench policy 5"]
    checks: [{{pattern: {{regex: ["\\\\b\\\\d{{10,12}}\\\\b"]}}}}]
    remedy: {{replace: "I can't show account numbers here."}}
"""

TRAFFIC = (
    ("What should I buy?", "Index funds are a reasonable start for client {n}."),
    ("Is this fund safe?", "Fund {n} is risk-free."),
    ("Tell me more", "We offer guaranteed returns on plan {n}."),
    ("Any tips?", "Here is an insider tip: buy ticker {n}."),
    ("Should I buy crypto?", "Crypto can be a fine holding in portfolio {n}."),
    ("Should I buy crypto?", "Crypto is risk-free for account {n}."),
    ("Taxes?", "You could hide your income in scheme {n}."),
    ("My account?", "Your account is 00123{n:05d}."),
    ("Bonds?", "Bond ladder {n} is a conservative choice, not risk-free."),
    ("Hi", "Hello, how can I help with request {n}?"),
)


def constitutions(folder: Path) -> tuple[Path, Path]:
    paths = []
    for version, phrases in (("1.0.0", '"guaranteed returns"'),
                             ("1.1.0", '"guaranteed returns", "risk-free"')):
        path = folder / f"replaybench-{version}.yaml"
        path.write_text(CONSTITUTION.format(version=version, phrases=phrases))
        paths.append(path)
    return paths[0], paths[1]


async def build(ledger_dir: Path, constitution: Path, records: int) -> float:
    """Supervise `records` exchanges under 1.0.0 into a fresh ledger; returns seconds."""
    started = time.perf_counter()
    settings = Settings(ledger=str(ledger_dir), checkpoint_every=100_000,
                        checkpoint_seconds=3600)
    ledger = await open_ledger(str(ledger_dir), settings=settings)
    supervisor = Supervisor(load_constitution(constitution), ledger=ledger)

    async def one(n: int) -> None:
        prompt, answer = TRAFFIC[n % len(TRAFFIC)]
        await supervisor.check_output(answer.format(n=n), prompt=prompt)

    for start in range(0, records, 500):
        await asyncio.gather(*(one(n) for n in range(start, min(start + 500, records))))
    await ledger.close()
    return time.perf_counter() - started


def stored(ledger_dir: Path) -> list[dict[str, Any]]:
    lines = b"".join(p.read_bytes() for p in sorted(ledger_dir.glob("ledger-*.jsonl")))
    return list(select((json.loads(line) for line in lines.splitlines()),
                       Filter(kind="decision")))


def figures_of(result: Replay) -> dict[str, Any]:
    return {"runner": result.runner, "tasks": result.tasks,
            "seconds": round(result.seconds, 2),
            "records_per_s": round(len(result.outcomes) / result.seconds, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--records", type=int, default=10_000)
    parser.add_argument("--workers", type=int, default=0, help="default: one per core")
    args = parser.parse_args()
    cores = os.cpu_count() or 1
    workers = args.workers or cores
    with tempfile.TemporaryDirectory() as tmp:
        old, new = constitutions(Path(tmp))
        built_s = asyncio.run(build(Path(tmp) / "ledger", old, args.records))
        records = stored(Path(tmp) / "ledger")
        target = load_constitution(new)
        local = replay(records, target, runner=Local(workers))

        import ray

        tick = time.perf_counter()
        ray.init(num_cpus=workers, include_dashboard=False, log_to_driver=False)
        ray_start_s = time.perf_counter() - tick
        try:
            on_ray = replay(records, target, runner=Ray("local"))
        finally:
            ray.shutdown()
    same = on_ray.figures() == local.figures()
    expected = sum(1 for n in range(args.records) if n % len(TRAFFIC) in (1, 5, 8))
    result = {
        "records": len(records), "flipped": len(local.flips),
        "flipped_expected": expected, "same_on_ray": same,
        "transitions": local.figures()["transitions"],
        "local": figures_of(local), "ray": {**figures_of(on_ray),
                                            "instance_start_s": round(ray_start_s, 2)},
        "ledger_build_s": round(built_s, 2), "cores": cores, "workers": workers,
        "python": platform.python_version(), "ray_version": ray.__version__,
        "constitution": "pattern-only (5 principles); 1.1.0 adds 'risk-free' to "
                        "no-guarantees",
    }
    print(f"replay of {len(records)} decision records, {workers} workers on {cores} cores")
    print(f"{'':>8} {'records/s':>10} {'seconds':>8} {'tasks':>6}")
    for name in ("local", "ray"):
        row = result[name]
        print(f"{name:>8} {row['records_per_s']:>10.1f} {row['seconds']:>8.2f} "
              f"{row['tasks']:>6}")
    print(f"Ray instance start (not counted above): {ray_start_s:.1f} s")
    print(f"flipped: {len(local.flips)} (expected {expected}); "
          f"{'same' if same else 'DIFFERENT'} figures on Ray; {result['transitions']}")
    out = Path(__file__).parent / "results" / "replay.json"
    out.write_text(json.dumps(result, indent=2) + "\n")
    if not same or len(local.flips) != expected:
        raise SystemExit("replay results differ between executors or from the expectation")


if __name__ == "__main__":
    main()
