"""Loading the models before a command's first check, with word on stderr when it is slow.

A supervision's deadline starts only once its models are loaded (supervisor.loading), so
a cold start on a busy machine no longer fails a check; it makes the first command wait
instead. The wait is said, on stderr (a `--json` answer on stdout stays clean): what
loads once it has taken a second, and how long it took.
"""

from __future__ import annotations

import asyncio
import time

from rich.console import Console

from supervisor.pipeline import Supervisor

SLOW_S = 1.0  # a load that takes longer than this is announced


async def load_models(supervisor: Supervisor, *, console: Console | None = None,
                      after_s: float = SLOW_S) -> None:
    """Await `supervisor.load()`; past `after_s` seconds, say what loads and how long it took."""
    started = time.perf_counter()
    loading = asyncio.ensure_future(supervisor.load())
    done, _ = await asyncio.wait({loading}, timeout=after_s)
    if done:
        loading.result()  # a failed load raises here (a missing model package, ...)
        return
    console = console or Console(stderr=True)
    what = ", ".join(supervisor.loads) or "models"
    message = f"loading {what} (once per process; the deadline starts after)"
    if console.is_terminal:
        with console.status(message):
            await loading
    else:
        console.print(message + " ...")
        await loading
    console.print(f"[dim]loaded {what} in {time.perf_counter() - started:.1f} s[/]")
