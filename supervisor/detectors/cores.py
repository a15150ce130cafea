"""The machine's cores, shared by the detectors that compute: who runs, now.

Two detectors spend real CPU time on a supervision: PII (spaCy's pass and Presidio's
recognizers, in Python) and the semantic encoder (a transformer pass outside the GIL).
The pipeline runs them side by side, and a server runs many supervisions at once, so
each computation holds one core here while it runs, and a claim waits while every core
is held: the process never runs more computations at once than the machine has cores.

Nothing takes more than one core: a pass spread over several threads spin-waits for
any core something else is using, in this process or another, and was many times
slower than one thread on a loaded machine (docs/performance.md).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache


class Cores:
    """A count of cores that computing detectors claim and release; thread-safe."""

    def __init__(self, count: int | None = None) -> None:
        self.count = max(1, count or os.cpu_count() or 1)
        self._free = self.count
        self._changed = threading.Condition()

    @property
    def idle(self) -> int:
        """Cores nobody holds now (all of them between supervisions)."""
        with self._changed:
            return self._free

    def claim(self) -> None:
        """Wait until a core is idle, and take it."""
        with self._changed:
            self._changed.wait_for(lambda: self._free > 0)
            self._free -= 1

    def release(self) -> None:
        """Hand back a core `claim` took."""
        with self._changed:
            self._free += 1
            self._changed.notify()

    @contextmanager
    def held(self) -> Iterator[None]:
        """One core for the duration of a block."""
        self.claim()
        try:
            yield
        finally:
            self.release()


@lru_cache(maxsize=1)
def shared_cores() -> Cores:
    """The process-wide count every detector claims from."""
    return Cores()
