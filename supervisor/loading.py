"""Loading models once per process, before any request's deadline starts.

A supervision's deadline (SUPERVISOR_DEADLINE) bounds one request's checks and model
calls, not the one-off cost of loading what they run on: Presidio and spaCy (seconds),
the sentence encoder and a constitution's exemplar matrices (seconds, a minute on two
busy cores), a local llama.cpp model. Counting those against the first request made a
busy machine's first `supervisor check` answer `error` and `constitution test` time
out. So the Supervisor awaits `load_detector` / a provider's `load` first, then starts
the clock.

Each load runs once per process: the first caller starts it, later and concurrent
callers (on this event loop or another) wait for that same run, never start their own.
A caller that gives up (a cancelled request) does not cancel the load: the next one
finds it done. A load that fails is forgotten, so the next caller tries again and gets
the failure itself (a missing model package is a ConfigError naming the fix).

Loads take turns on one worker thread: two first imports of spaCy or torch in two
threads at once can see each other's half-initialised modules (`detectors.preload`).
"""

from __future__ import annotations

import asyncio
import inspect
import threading
from collections.abc import Callable, Hashable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TYPE_CHECKING, Protocol, runtime_checkable

if TYPE_CHECKING:
    from supervisor.constitution import Principle

_loader = ThreadPoolExecutor(max_workers=1, thread_name_prefix="supervisor-load")
_runs: dict[Hashable, tuple[Future[object], object]] = {}
_lock = threading.RLock()  # re-entered when a run is already done as its callback is added


@runtime_checkable
class Loadable(Protocol):
    """Something with a one-off load (a local model): `load` makes its first call cheap."""

    async def load(self) -> bool:
        """Load now (cheap when loaded, shared with concurrent callers); True if it waited."""
        ...


async def once(key: Hashable, load: Callable[[], object], *, keep: object = None) -> bool:
    """Run `load` on the loader thread the first time `key` is asked for; wait for it.

    Returns True when this call had to wait for a load (the first call, or one made while
    it ran), False when it was already done. `keep` is held as long as the entry, so an
    `id()` inside `key` cannot pass to another object.
    """
    with _lock:
        entry = _runs.get(key)
        if entry is None:
            entry = (_loader.submit(load), keep)
            _runs[key] = entry
            entry[0].add_done_callback(lambda done: _forget_failed(key, done))
    run = entry[0]
    if run.done():
        run.result()  # re-raises a failure this caller raced with
        return False
    await asyncio.shield(asyncio.wrap_future(run))
    return True


def _forget_failed(key: Hashable, run: Future[object]) -> None:
    if run.cancelled() or run.exception() is not None:
        with _lock:
            if key in _runs and _runs[key][0] is run:
                del _runs[key]


async def load_detector(detector: object, principles: Sequence[Principle], *,
                        scope: str = "") -> bool:
    """Run a detector's `warm` once per process (per `scope`, e.g. a constitution's sha256).

    Detectors expose `warm()` (PII: spaCy and Presidio) or `warm(principles)` (semantic:
    the encoder and these principles' exemplar matrices); one without `warm` (pattern)
    has nothing to load. Returns True when this call waited for the load.
    """
    warm = getattr(detector, "warm", None)
    if not callable(warm):
        return False
    if _takes_principles(warm):
        chosen = tuple(principles)
        return await once(("detector", id(detector), scope), lambda: warm(chosen),
                          keep=detector)
    return await once(("detector", id(detector), ""), warm, keep=detector)


def _takes_principles(warm: Callable[..., object]) -> bool:
    """Whether `warm` takes the principles (a positional parameter) or nothing."""
    try:
        parameters = inspect.signature(warm).parameters.values()
    except (TypeError, ValueError):  # a builtin without a signature: call it bare
        return False
    return any(p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD, p.VAR_POSITIONAL)
               for p in parameters)
