"""One private event loop, on a daemon thread, where every wrapped SDK call is supervised.

Why a loop of our own: the Supervisor and the Ledger are async and a Ledger belongs to
the loop it first appends on (its group commit is a task there). The wrappers serve
sync clients (which need a blocking call that works even when the calling thread
already runs a loop) and async clients living in any loop (a web framework's, each
test's). Running supervision on one process-wide loop gives both a single home: sync
callers block on a future, async callers await it from their own loop, and one Ledger
per target is shared by every wrapper in the process.

Ledgers opened here are closed (flushed and checkpointed) at interpreter exit, in the
threading module's exit hook: it runs before the thread pools stop taking work (which
the Ledger's close needs), where a plain `atexit` handler would run too late.
"""

from __future__ import annotations

import asyncio
import concurrent.futures.thread  # noqa: F401 (its exit hook must be registered before ours)
import contextlib
import threading
from collections.abc import Awaitable, Callable, Coroutine
from concurrent.futures import Future
from typing import Any, TypeVar

T = TypeVar("T")


class Portal:
    """A daemon thread running an event loop; submit coroutines from any thread or loop."""

    def __init__(self) -> None:
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._closers: list[Callable[[], Awaitable[None]]] = []
        self._hooked = False

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        """The portal's loop, started on first use."""
        with self._lock:
            if self._loop is None or self._thread is None or not self._thread.is_alive():
                loop = asyncio.new_event_loop()
                ready = threading.Event()

                def run() -> None:
                    asyncio.set_event_loop(loop)
                    loop.call_soon(ready.set)
                    loop.run_forever()

                thread = threading.Thread(target=run, name="supervisor-portal", daemon=True)
                thread.start()
                if not self._hooked:
                    # private but stable since 3.9: what concurrent.futures itself uses
                    threading._register_atexit(self.close)  # type: ignore[attr-defined]  # private: no stub
                    self._hooked = True
                ready.wait()
                self._loop, self._thread = loop, thread
            return self._loop

    def submit(self, coro: Coroutine[Any, Any, T]) -> Future[T]:
        """Schedule `coro` on the portal's loop."""
        if threading.current_thread() is self._thread:
            coro.close()
            raise RuntimeError("a supervised SDK call was made from the supervisor's own loop")
        return asyncio.run_coroutine_threadsafe(coro, self.loop)

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        """Run `coro` on the portal and block until it is done (for sync callers)."""
        return self.submit(coro).result()

    async def run_async(self, coro: Coroutine[Any, Any, T]) -> T:
        """Run `coro` on the portal and await it from the caller's own loop."""
        return await asyncio.wrap_future(self.submit(coro))

    def on_close(self, closer: Callable[[], Awaitable[None]]) -> None:
        """Run `closer` on the portal's loop when the process exits."""
        self._closers.append(closer)

    def close(self) -> None:
        """Run the registered closers, then stop the loop (called at interpreter exit)."""
        with self._lock:
            loop, thread = self._loop, self._thread
        if loop is None or thread is None or not thread.is_alive():
            return
        closers, self._closers = self._closers, []

        async def finish() -> None:
            for closer in closers:
                with contextlib.suppress(Exception):  # exit must not fail on one closer
                    await closer()

        asyncio.run_coroutine_threadsafe(finish(), loop).result(timeout=30)
        with self._lock:
            self._loop = self._thread = None
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=5)


_portal = Portal()


def portal() -> Portal:
    """The process's one portal."""
    return _portal
