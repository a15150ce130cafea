"""Where a serving process's memory goes: resident memory after each step of a warm-up.

The steps a `supervisor serve` process takes before and while it answers moderations
(issue 21: <= 600 MiB after 100 requests, read by bench/http_service.py), one after the
other in one process, with the RSS each one adds, then which large libraries ended up
imported. Run it with another tree first on PYTHONPATH to compare commits (`git archive
<commit> | tar -x -C /tmp/tree`); the cache folder should be filled by an earlier run, as
on every start but a machine's first.

    SUPERVISOR_CACHE_DIR=/tmp/cache .venv/bin/python bench/memory_steps.py [--constitution base]
    PYTHONPATH=/tmp/tree SUPERVISOR_CACHE_DIR=/tmp/cache .venv/bin/python bench/memory_steps.py
"""

from __future__ import annotations

import argparse
import asyncio
import ctypes
import gc
import importlib
import sys
import time
from collections.abc import Callable
from typing import Any

LIBRARIES = ("torch", "transformers", "sentence_transformers", "tokenizers", "spacy", "thinc",
             "presidio_analyzer", "scipy", "sklearn", "PIL", "fpdf", "huggingface_hub")


def rss_mib() -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS in /proc/self/status")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--constitution", default="base")
    parser.add_argument("--requests", type=int, default=100)
    args = parser.parse_args()
    last = rss_mib()
    print(f"{'step':<50} {'RSS MiB':>8} {'added':>7} {'cpu s':>6}")
    print(f"{'python':<50} {last:>8.0f}")

    def step(name: str, run: Callable[[], Any]) -> Any:
        nonlocal last
        began = time.process_time()
        result = run()
        now = rss_mib()
        print(f"{name:<50} {now:>8.0f} {now - last:>+7.0f} {time.process_time() - began:>6.2f}",
              flush=True)
        last = now
        return result

    step("the service's modules (FastAPI, api, supervisor)",
         lambda: [importlib.import_module(m) for m in ("api.app", "supervisor.pipeline")])
    from supervisor.constitution import load_constitution
    from supervisor.detectors import preload
    from supervisor.pipeline import Supervisor

    constitution = load_constitution(args.constitution)
    step("torch", lambda: importlib.import_module("torch"))
    step("spacy", lambda: importlib.import_module("spacy"))
    step("presidio_analyzer", lambda: importlib.import_module("presidio_analyzer"))
    step("the rest of `preload`", lambda: preload(constitution))

    async def serve() -> None:
        await Supervisor(constitution).load()

    async def answer() -> None:
        checks = Supervisor(constitution, deadline_s=600)
        for number in range(args.requests):
            await checks.assess(f"Answer {number}: Patient Maria Lopez, SSN 536-22-8193, "
                                "should take the tablets with food.")

    step("models loaded (PII, encoder, exemplars)", lambda: asyncio.run(serve()))
    step(f"{args.requests} supervisions", lambda: asyncio.run(answer()))
    step("gc.collect + gc.freeze", lambda: (gc.collect(), gc.freeze()))
    step("malloc_trim", lambda: ctypes.CDLL("libc.so.6").malloc_trim(0))
    print("imported:", ", ".join(m for m in LIBRARIES if m in sys.modules))


if __name__ == "__main__":
    main()
