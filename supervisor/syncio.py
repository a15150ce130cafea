"""Run a coroutine to completion from sync code, whether or not this thread runs a loop.

Sync facades (`Supervisor.supervise_sync`, the CLI commands) used to call `asyncio.run`,
which refuses to start inside a running event loop: a Jupyter cell, an async test, a
sync library called from an async app. `run_sync` keeps `asyncio.run` where it works (no
loop running in this thread) and otherwise runs the coroutine under `asyncio.run` on a
worker thread, blocking the caller until it is done; no loop is patched (nest_asyncio
would re-enter the caller's loop and let its other tasks run in the middle of ours).

The caller's loop is blocked while it waits, as any sync call blocks it; the coroutine's
context variables are copied to the worker. The wrapped SDK clients need a loop that
outlives each call (one Ledger shared by every wrapper) and use `middleware.portal`.
"""

from __future__ import annotations

import asyncio
import contextvars
from collections.abc import Awaitable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

T = TypeVar("T")


def run_sync(awaitable: Awaitable[T]) -> T:
    """Run `awaitable` to completion and return its result (or raise its exception)."""
    coro = awaitable if asyncio.iscoroutine(awaitable) else _awaited(awaitable)
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)
    context = contextvars.copy_context()
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="supervisor-sync") as worker:
        return worker.submit(context.run, asyncio.run, coro).result()


async def _awaited(awaitable: Awaitable[T]) -> T:
    """A coroutine for any awaitable (asyncio.run takes only coroutines)."""
    return await awaitable
