"""The machine's cores, shared by the detectors that compute: who runs on how many, now.

Two detectors spend real CPU time on a supervision: PII (spaCy's pass and Presidio's
recognizers, in Python) and the semantic encoder (a transformer pass outside the GIL, on
as many torch threads as it is given). The pipeline runs them side by side, so each one
holds its cores here while it computes:

- PII holds one core for its analysis;
- an encoder pass holds one core, or, for a text embedded alone, every idle core.

So a pass spreads over two cores when nothing else is computing, and keeps to one while
PII runs beside it: two computations sharing one core slow each other down more than
the extra thread gains (figures in docs/encoder.md).
A claim waits only while every core is held.
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

    def claim(self, *, spread: bool = False) -> int:
        """Wait for a core; with `spread`, take every idle one. Returns how many were taken."""
        with self._changed:
            self._changed.wait_for(lambda: self._free > 0)
            taken = self._free if spread else 1
            self._free -= taken
            return taken

    def release(self, taken: int) -> None:
        with self._changed:
            self._free += taken
            self._changed.notify_all()

    @contextmanager
    def held(self, *, spread: bool = False) -> Iterator[int]:
        """`claim` for the duration of a block; yields the number of cores held."""
        taken = self.claim(spread=spread)
        try:
            yield taken
        finally:
            self.release(taken)


@lru_cache(maxsize=1)
def shared_cores() -> Cores:
    """The process-wide count every detector claims from."""
    return Cores()
