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

    .venv/bin/python bench/http_service.py [--seconds 20] [--workers 1]
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


async def load(url: str, connections: int, seconds: float) -> dict[str, Any]:
    """`connections` clients posting back to back for `seconds`; latency of each request."""
    latencies: list[float] = []
    errors = 0
    kinds: dict[str, int] = {}  # transport errors by exception class
    limits = httpx2.Limits(max_connections=connections,
                           max_keepalive_connections=connections)
    async with httpx2.AsyncClient(base_url=url, limits=limits, timeout=30,
                                  headers={"authorization": f"Bearer {KEY}"}) as client:
        stop = time.monotonic() + seconds

        async def one(number: int) -> None:
            nonlocal errors
            turn = number
            while time.monotonic() < stop:
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


def measure(url: str, seconds: float) -> list[dict[str, Any]]:
    asyncio.run(load(url, 16, 10))  # warm every code path, connection and worker
    return [asyncio.run(load(url, c, seconds)) for c in (16, 64)]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--workers", type=int, default=1)
    args = parser.parse_args()
    root = Path(__file__).resolve().parent.parent
    scratch = tempfile.mkdtemp(prefix="bench-http-")
    env = {**os.environ, "SUPERVISOR_LEDGER": f"{scratch}/ledger", "HF_HUB_OFFLINE": "1",
           "SUPERVISOR_API_KEYS": f"app:{KEY}", "PYTHONPATH": str(root)}
    results: dict[str, Any] = {}
    memory: dict[str, dict[str, float]] = {}  # after the warm-up and every level
    for name, command, ready in (
        ("bare", [sys.executable, "-m", "uvicorn", "--factory", "bench.bare_app:create",
                  "--log-level", "warning", "--no-access-log"], "/openapi.json"),
        ("supervised", [sys.executable, "-m", "supervisor.cli", "serve", "--log-level",
                        "warning", "--workers", str(args.workers)], "/readyz"),
    ):
        port = _port()
        # its own process group, so that a kill reaches uvicorn's worker processes too
        server = subprocess.Popen([*command, "--port", str(port)], env=env, cwd=root,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                  start_new_session=True)
        try:
            _wait(f"http://127.0.0.1:{port}", ready)
            results[name] = measure(f"http://127.0.0.1:{port}", args.seconds)
            memory[name] = {"rss_mib": rss_mib(server.pid),
                            "requests": sum(r["requests"] for r in results[name])}
        finally:
            server.terminate()
            try:
                server.wait(timeout=60)
            except subprocess.TimeoutExpired:
                print(f"warning: {name} did not stop within 60 s of SIGTERM; killed")
                os.killpg(server.pid, signal.SIGKILL)
                server.wait()
    print(f"POST /v1/moderations, {args.seconds:g} s per level, {args.workers} worker(s), "
          "durable JSONL ledger, local detectors (base constitution)")
    print(f"{'server':<11} {'conns':>5} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'errors':>6}")
    for name, rows in results.items():
        for r in rows:
            print(f"{name:<11} {r['connections']:>5} {r['rps']:>8} {r['p50_ms']:>8} "
                  f"{r['p99_ms']:>8} {r['errors']:>6}")
    for bare, supervised in zip(results["bare"], results["supervised"], strict=True):
        print(f"at {bare['connections']} connections the supervised endpoint serves "
              f"{supervised['rps'] / bare['rps']:.2f}x the bare endpoint's requests/s")
    for name, used in memory.items():
        print(f"{name} server RSS after {used['requests']:,.0f} timed requests (and the "
              f"warm-up): {used['rss_mib']:,.0f} MiB"
              + (" (target <= 600 MiB)" if name == "supervised" else ""))
    out = root / "bench" / "results" / "http.json"
    out.write_text(json.dumps({"seconds": args.seconds, "workers": args.workers,
                               "results": results, "memory": memory}, indent=2))
    print(f"saved {out}")


if __name__ == "__main__":
    main()
