"""`supervisor serve --workers N`: N worker processes on one port, each accepting its own.

uvicorn's workers share one listening socket, and the worker whose event loop wakes first
accepts every connection then waiting: sixteen keep-alive clients that connected together
all landed on one worker while the other idled (docs/performance.md, "Two workers, one
port"). Here each worker binds a socket of its own with SO_REUSEPORT, and the kernel hands
each new connection to one of them by a hash of its addresses.

The parent holds the port (bound, never listening, so it is given no connection) and
starts, replaces and stops the workers: a worker that dies is started again; one that
fails before serving stops them all, since every replacement would fail alike (`serve`
has already tried the constitution and the ledger, the common causes); SIGINT or
SIGTERM stops each worker gracefully, its ledger flushed. A worker whose parent is gone
stops as well. A worker that dies before it ever served counts as failing to start,
whatever its exit code (an app factory's error is one line on stderr, not a stack
trace). A worker whose event loop has not ticked for `HANG_S` seconds once it
serves (stuck, or stopped) is killed and replaced, as uvicorn's parent did with a worker
that missed its pings.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import signal
import socket
import sys
import threading
import time
import traceback
from multiprocessing.process import BaseProcess
from typing import Any

from supervisor.errors import ConfigError

# uvicorn's exit code for a worker whose start-up failed (uvicorn.config.STARTUP_FAILURE)
STARTUP_FAILURE = 3
GRACE_S = 30.0  # a worker stopping gracefully is killed after this
# a serving worker whose event loop has not ticked for this long is replaced; local checks
# hold the GIL for a while, so a busy worker's loop is slow, never silent for a minute
HANG_S = 60.0
APP = "api.app:from_environment"

log = logging.getLogger("supervisor.serve")


def supported() -> bool:
    """Whether this platform can give each worker its own socket on one port."""
    return hasattr(socket, "SO_REUSEPORT")


def bind(host: str, port: int) -> socket.socket:
    """A TCP socket bound to host:port that other SO_REUSEPORT sockets may share."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    return sock


def hold(host: str, port: int) -> socket.socket:
    """The parent's hold on the port (0: one the system picks).

    Bound first without SO_REUSEPORT, so a port that anything else holds (another
    `serve --workers` included, whose sockets would otherwise share it) is refused here
    with a clear error, not shared.
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    try:
        with socket.socket(family, socket.SOCK_STREAM) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            probe.bind((host, port))
            port = probe.getsockname()[1]
        return bind(host, port)
    except OSError as exc:
        raise ConfigError(f"cannot serve on {host}:{port}: {exc.strerror or exc}; choose "
                          "another --port or stop what is using it") from None


def run(count: int, held: socket.socket, options: dict[str, Any], *, app: str = APP,
        hang_s: float = HANG_S) -> int:
    """Serve with `count` workers on the port `held` holds (see `hold`) until SIGINT or
    SIGTERM; the exit status to return. Closes `held`.

    `options` are uvicorn.Config's keywords besides the app (an import string of its
    factory) and the address.
    """
    host, port = held.getsockname()[:2]
    context = multiprocessing.get_context("spawn")  # a fork would copy the parent's threads
    stop = threading.Event()
    previous = {sig: signal.signal(sig, lambda *_: stop.set())
                for sig in (signal.SIGINT, signal.SIGTERM)}

    def start() -> tuple[BaseProcess, Any]:
        beat = context.Value("d", 0.0, lock=False)  # monotonic time of the last tick
        worker = context.Process(target=_worker, name="supervisor-worker",
                                 args=(app, host, port, options, os.getpid(), beat))
        worker.start()
        return worker, beat

    failed = False
    workers = [start() for _ in range(count)]  # each with the time of its last tick
    try:
        while not stop.wait(0.5):
            for index, (worker, beat) in enumerate(workers):
                silent = time.monotonic() - beat.value
                if worker.is_alive() and beat.value and silent > hang_s:
                    log.error("worker %s has not ticked for %.0f s; killed", worker.pid, silent)
                    worker.kill()
                if worker.is_alive():
                    continue
                worker.join()
                if not beat.value:  # it never served: every replacement would fail alike
                    log.error("a worker failed to start (exit %s); stopping", worker.exitcode)
                    failed = True
                    stop.set()
                    break
                log.warning("worker %s stopped (exit %s); starting another", worker.pid,
                            worker.exitcode)
                workers[index] = start()
    finally:
        _stop([worker for worker, _ in workers])
        held.close()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return 1 if failed else 0


def _stop(workers: list[BaseProcess]) -> None:
    """SIGTERM to every worker (uvicorn's graceful shutdown), then a kill after GRACE_S."""
    for worker in workers:
        if worker.is_alive():
            worker.terminate()
    deadline = time.monotonic() + GRACE_S
    for worker in workers:
        worker.join(max(0.0, deadline - time.monotonic()))
        if worker.is_alive():
            log.warning("worker %s did not stop within %g s; killed", worker.pid, GRACE_S)
            worker.kill()
            worker.join()


def _worker(app: str, host: str, port: int, options: dict[str, Any], parent: int,
            beat: Any) -> None:
    """One worker: its own socket on the port, uvicorn on it, until told to stop; each
    tick of its event loop is written to `beat` for the parent to read."""
    import uvicorn

    class Ticking(uvicorn.Server):
        async def on_tick(self, counter: int) -> bool:
            beat.value = time.monotonic()  # CLOCK_MONOTONIC: the parent's clock too
            return await super().on_tick(counter)

    sock = bind(host, port)
    server = Ticking(uvicorn.Config(app, factory=True, **options))
    threading.Thread(target=_orphaned, args=(server, parent), daemon=True,
                     name="parent-watch").start()
    try:
        server.run(sockets=[sock])
    except Exception as exc:  # the app factory's: uvicorn passes all but TypeError on
        if server.started:
            raise
        if options.get("log_level") == "debug":
            traceback.print_exc()
        print(f"error: {_why(exc)}", file=sys.stderr, flush=True)
        sys.exit(STARTUP_FAILURE)
    if not server.started:
        sys.exit(STARTUP_FAILURE)


def _why(exc: Exception) -> str:
    """One line for a worker's failed start: our errors say what to fix; anything else is
    named with its type (`--log-level debug` prints its stack trace too)."""
    from supervisor.errors import SupervisorError

    if isinstance(exc, SupervisorError):
        return str(exc)
    return f"a worker failed to start: {type(exc).__name__}: {exc}"


def _orphaned(server: Any, parent: int) -> None:
    """Stop the server gracefully once the parent is gone (killed with no chance to stop
    its workers): a worker left alone would hold the port and the ledger."""
    while os.getppid() == parent:
        time.sleep(1.0)
    server.should_exit = True
