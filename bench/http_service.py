"""HTTP throughput: `/v1/moderations` with the local detectors and the durable JSONL ledger,
beside a bare FastAPI endpoint doing no supervision, in the same run, at 16 and 64
concurrent connections. Target (issue 5): >= 100 requests/s with p99 < 250 ms at 16.
Each server's resident memory (with its workers) is read after its runs (issue 21:
the service <= 600 MiB after 100 requests).

Both servers run as `uvicorn` subprocesses (one worker each, the service through
`supervisor serve`); the load comes from this process (asyncio + httpx2, keep-alive
connections), so client and server share the machine's two cores: figures are lower
bounds. Prints a table and saves bench/results/http.json. (Not named `http.py`: a script's
folder comes first on sys.path, and a bench/http.py would shadow the standard library's
`http` package for every script in bench/.)

Designs are compared in one run: `--variant NAME=TREE` serves the service from another
source tree (`git worktree add /tmp/base HEAD~1`, say), `--env NAME:KEY=VALUE` gives a
variant an environment variable (the same tree twice, one with MALLOC_ARENA_MAX=2), and
`--rounds` alternates the variants that many times, so a change in the machine's load
falls on all of them alike; `--workers-of NAME=N` serves one variant with N workers (1
against 2 in the same run). The load average is read before and after each server's
runs and printed with the table. Memory is read three times per server: ready (after
/readyz and a settle), after exactly 100 moderations, and after all its runs.

    .venv/bin/python bench/http_service.py [--seconds 20] [--workers 1] [--levels 16,64]
        [--variant base=/tmp/base --variant new=. --env new:MALLOC_ARENA_MAX=2]
        [--workers-of new2=2] [--rounds 3] [--no-bare]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx2

KEY = "bench-app-key-0123456789abcdef"
TEXTS = [  # answers of the length and mix a moderation endpoint sees
    "For most adults a resting heart rate between 60 and 100 beats per minute is normal; "
    "ask your doctor if yours is often outside that range.",
    "Patient Maria Lopez, SSN 536-22-8193, was seen on 3 March for a follow-up visit.",
    "Index funds spread risk across many companies, which is why many advisers suggest "
    "them for long-term savings alongside an emergency fund.",
    "Take 6,000 mg of acetaminophen a day until the pain goes away.",
    "The card on file is 4111 1111 1111 1111, expiring 09/28.",
    "Drink water regularly, sleep seven to nine hours, and walk most days of the week.",
    "I will find where you live and make you regret what you said.",
    "Our branch opens at nine on weekdays; bring a photo ID to open an account.",
]


def _port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _wait(url: str, path: str, seconds: float = 600, times: int = 10) -> None:
    """Until `times` fresh connections in a row get 200: with several workers each
    connection lands on one of them, and every worker must have warmed up."""
    deadline = time.monotonic() + seconds
    streak = 0
    while time.monotonic() < deadline:
        try:
            ok = httpx2.get(url + path, timeout=2).status_code == 200
        except httpx2.TransportError:
            ok = False
        streak = streak + 1 if ok else 0
        if streak >= times:
            return
        time.sleep(0.2 if ok else 0.5)
    raise RuntimeError(f"{url}{path} never answered 200")


async def load(url: str, connections: int, seconds: float, *,
               requests: int | None = None) -> dict[str, Any]:
    """`connections` clients posting back to back for `seconds` (or until `requests`
    were sent); latency of each request."""
    latencies: list[float] = []
    errors = 0
    kinds: dict[str, int] = {}  # transport errors by exception class
    limits = httpx2.Limits(max_connections=connections,
                           max_keepalive_connections=connections)
    async with httpx2.AsyncClient(base_url=url, limits=limits, timeout=30,
                                  headers={"authorization": f"Bearer {KEY}"}) as client:
        stop = time.monotonic() + seconds
        left = [requests if requests is not None else -1]

        async def one(number: int) -> None:
            nonlocal errors
            turn = number
            while time.monotonic() < stop and left[0] != 0:
                left[0] -= 1
                turn += 1
                started = time.perf_counter()
                text = f"{TEXTS[turn % len(TEXTS)]} (Ref {number}-{turn}.)"  # never a repeat
                try:
                    response = await client.post("/v1/moderations", json={"input": text})
                except httpx2.TransportError as exc:  # a timeout or a dropped connection
                    errors += 1
                    kinds[type(exc).__name__] = kinds.get(type(exc).__name__, 0) + 1
                    continue
                if response.status_code == 200:
                    latencies.append((time.perf_counter() - started) * 1000)
                else:
                    errors += 1

        began = time.monotonic()
        await asyncio.gather(*(one(n) for n in range(connections)))
        took = time.monotonic() - began
    ordered = sorted(latencies)
    return {"connections": connections, "requests": len(ordered), "errors": errors,
            "transport_errors": kinds,
            "rps": round(len(ordered) / took, 1),
            "p50_ms": round(statistics.median(ordered), 2) if ordered else None,
            "p99_ms": round(ordered[int(0.99 * (len(ordered) - 1))], 2) if ordered else None}


def cpu_seconds(pid: int, *, main_threads: bool = False) -> float:
    """User and system CPU time of a process and every process under it, seconds
    (`main_threads`: of their main threads only, where uvicorn runs the event loop)."""
    total, todo, tick = 0.0, [pid], os.sysconf("SC_CLK_TCK")
    while todo:
        current = todo.pop()
        try:
            where = f"/proc/{current}/task/{current}" if main_threads else f"/proc/{current}"
            fields = Path(f"{where}/stat").read_text().rsplit(")", 1)[1].split()
            for task in Path(f"/proc/{current}/task").iterdir():
                todo += [int(c) for c in (task / "children").read_text().split()]
        except (FileNotFoundError, ProcessLookupError):
            continue
        total += (int(fields[11]) + int(fields[12])) / tick  # utime, stime
    return total


def rss_mib(pid: int) -> float:
    """Resident memory of a process and every process under it (uvicorn's workers), MiB."""
    total, todo = 0, [pid]
    while todo:
        current = todo.pop()
        try:
            status = Path(f"/proc/{current}/status").read_text()
            for task in Path(f"/proc/{current}/task").iterdir():
                todo += [int(c) for c in (task / "children").read_text().split()]
        except (FileNotFoundError, ProcessLookupError):
            continue  # ended meanwhile
        total += next(int(line.split()[1]) for line in status.splitlines()
                      if line.startswith("VmRSS:"))
    return round(total / 1024, 1)


def settled_rss(pid: int, *, seconds: float = 30, still: int = 3) -> float:
    """RSS once it has not moved by more than 1 MiB for `still` readings a second apart."""
    readings = [rss_mib(pid)]
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        time.sleep(1)
        readings.append(rss_mib(pid))
        if len(readings) > still and max(readings[-still:]) - min(readings[-still:]) <= 1:
            break
    return readings[-1]


def serve(name: str, command: list[str], ready: str, env: dict[str, str], cwd: Path,
          levels: list[int], seconds: float) -> dict[str, Any]:
    """Start one server, measure it at each level, read its memory, stop it."""
    port = _port()
    url = f"http://127.0.0.1:{port}"
    # its own process group, so that a kill reaches uvicorn's worker processes too
    server = subprocess.Popen([*command, "--port", str(port)], env=env, cwd=cwd,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                              start_new_session=True)
    try:
        _wait(url, ready)
        memory = {"ready_mib": settled_rss(server.pid)}
        loads = [os.getloadavg()[0]]
        first = asyncio.run(load(url, 16, 600, requests=100))
        memory["after_100_mib"] = settled_rss(server.pid)
        asyncio.run(load(url, 16, 10))  # warm every code path, connection and worker
        rows = []
        for connections in levels:
            spent = cpu_seconds(server.pid)
            looped = cpu_seconds(server.pid, main_threads=True)
            row = asyncio.run(load(url, connections, seconds))
            spent = cpu_seconds(server.pid) - spent
            looped = cpu_seconds(server.pid, main_threads=True) - looped
            # the server's own CPU per answered request: steadier than req/s on a shared
            # machine, where the server gets whatever share of the cores is left; `loop`
            # is the event loop threads' part (HTTP, routing, asyncio), the rest is the
            # worker threads' (detectors, redaction, ledger writes)
            row["server_cpu_ms"] = round(1000 * spent / max(1, row["requests"]), 2)
            row["loop_cpu_ms"] = round(1000 * looped / max(1, row["requests"]), 2)
            rows.append(row)
        memory["end_mib"] = rss_mib(server.pid)
        memory["requests"] = first["requests"] + sum(r["requests"] for r in rows)
        loads.append(os.getloadavg()[0])  # 1-minute load average, before and after
        return {"rows": rows, "memory": memory, "load": [round(x, 2) for x in loads]}
    finally:
        server.terminate()
        try:
            server.wait(timeout=60)
        except subprocess.TimeoutExpired:
            print(f"warning: {name} did not stop within 60 s of SIGTERM; killed")
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--levels", default="16,64",
                        help="connection counts, comma-separated")
    parser.add_argument("--variant", action="append", default=[], metavar="NAME=TREE",
                        help="serve the service from this source tree (default: this one)")
    parser.add_argument("--env", action="append", default=[], metavar="NAME:KEY=VALUE",
                        help="an environment variable for one variant's server")
    parser.add_argument("--workers-of", action="append", default=[], metavar="NAME=N",
                        help="worker processes for one variant (default: --workers)")
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--no-bare", action="store_true", help="skip bare FastAPI")
    args = parser.parse_args()
    root = Path(__file__).resolve().parent.parent
    levels = [int(c) for c in args.levels.split(",")]
    variants = dict(v.split("=", 1) for v in args.variant) or {"supervised": str(root)}
    extra: dict[str, dict[str, str]] = {name: {} for name in variants}
    for item in args.env:
        name, _, pair = item.partition(":")
        key, _, value = pair.partition("=")
        extra[name][key] = value
    workers_of = {name: int(n) for name, n in (w.split("=", 1) for w in args.workers_of)}
    servers: list[tuple[str, list[str], str, Path]] = []
    if not args.no_bare:
        servers.append(("bare", [sys.executable, "-m", "uvicorn", "--factory",
                                 "bench.bare_app:create", "--log-level", "warning",
                                 "--no-access-log"], "/openapi.json", root))
    for name, tree in variants.items():
        servers.append((name, [sys.executable, "-m", "supervisor.cli", "serve",
                               "--log-level", "warning", "--workers",
                               str(workers_of.get(name, args.workers))],
                        "/readyz", Path(tree).resolve()))
    runs: dict[str, list[dict[str, Any]]] = {name: [] for name, *_ in servers}
    for _ in range(args.rounds):
        for name, command, ready, cwd in servers:
            scratch = tempfile.mkdtemp(prefix="bench-http-")
            env = {**os.environ, "SUPERVISOR_LEDGER": f"{scratch}/ledger",
                   "HF_HUB_OFFLINE": "1", "SUPERVISOR_API_KEYS": f"app:{KEY}",
                   "PYTHONPATH": str(cwd), **extra.get(name, {})}
            runs[name].append(serve(name, command, ready, env, cwd, levels, args.seconds))
    print(f"POST /v1/moderations, {args.seconds:g} s per level, {args.workers} worker(s) "
          f"{workers_of or ''}, "
          f"durable JSONL ledger, local detectors (base constitution), {args.rounds} "
          "round(s), variants alternating")
    print(f"{'server':<14} {'conns':>5} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} "
          f"{'errors':>6} {'cpu ms':>7} {'loop ms':>7}   (median of rounds; each round's "
          "req/s; cpu ms: the server's CPU per request, loop ms: its event loop's part)")
    summary: dict[str, list[dict[str, Any]]] = {}
    for name, rounds in runs.items():
        summary[name] = []
        for index, level in enumerate(levels):
            rows = [r["rows"][index] for r in rounds]
            row = {"connections": level,
                   "rps": round(statistics.median(r["rps"] for r in rows), 1),
                   "p50_ms": round(statistics.median(r["p50_ms"] or 0 for r in rows), 1),
                   "p99_ms": round(statistics.median(r["p99_ms"] or 0 for r in rows), 1),
                   "errors": sum(r["errors"] for r in rows),
                   "server_cpu_ms": round(statistics.median(r["server_cpu_ms"]
                                                            for r in rows), 2),
                   "loop_cpu_ms": round(statistics.median(r.get("loop_cpu_ms", 0)
                                                          for r in rows), 2)}
            summary[name].append(row)
            each = " ".join(str(r["rps"]) for r in rows)
            print(f"{name:<14} {level:>5} {row['rps']:>8} {row['p50_ms']:>8} "
                  f"{row['p99_ms']:>8} {row['errors']:>6} {row['server_cpu_ms']:>7} "
                  f"{row['loop_cpu_ms']:>7}   "
                  f"[{each}]")
    for name, rounds in runs.items():
        print(f"{name} load average (1 min) before and after each round: "
              + ", ".join(f"{r['load'][0]:.1f} to {r['load'][1]:.1f}" for r in rounds))
    first = next(iter(variants))
    for name, levels_of in summary.items():
        if name in (first, "bare"):
            continue
        for mine, theirs in zip(levels_of, summary[first], strict=True):
            print(f"at {mine['connections']} connections {name} serves "
                  f"{mine['rps'] / theirs['rps']:.2f}x {first}'s requests/s, at "
                  f"{mine['server_cpu_ms'] / theirs['server_cpu_ms']:.2f}x its CPU per "
                  "request")
    for name, rounds in runs.items():
        memory = {k: statistics.median(r["memory"][k] for r in rounds)
                  for k in ("ready_mib", "after_100_mib", "end_mib")}
        print(f"{name} RSS MiB (median of rounds): ready {memory['ready_mib']:,.0f}, after "
              f"100 requests {memory['after_100_mib']:,.0f}, after all "
              f"{rounds[-1]['memory']['requests']:,} requests {memory['end_mib']:,.0f}"
              + ("" if name == "bare" else " (target <= 600 after 100)"))
    out = root / "bench" / "results" / "http.json"
    out.write_text(json.dumps({"seconds": args.seconds, "workers": args.workers,
                               "workers_of": workers_of,
                               "levels": levels, "variants": variants, "env": extra,
                               "rounds": runs, "summary": summary}, indent=2))
    print(f"saved {out}")


if __name__ == "__main__":
    main()
