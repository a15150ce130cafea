"""Failed console logins, counted per client address: after too many, wait.

After `limit` failed logins from one address within `window` seconds, every further
attempt from it is refused (429 with Retry-After), the right key included, until the
oldest of those failures is `window` seconds old: at most `limit` guesses per window.
A successful login forgets the address's failures.

Counts are kept in memory, per process: with `serve --workers N` an address gets at most
N times `limit` guesses per window (the kernel spreads connections over the workers).
That bound is what matters against guessing a key (generated keys carry 192 random
bits); every failure is also recorded in the ledger, where all workers' failures meet.
The clock is injected so tests move time instead of waiting for it.
"""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Callable

LIMIT = 10
WINDOW_SECONDS = 300.0
MAX_ADDRESSES = 10_000  # beyond this many addresses, forget those whose failures expired


class Throttle:
    """Failed logins per address in a sliding window."""

    def __init__(self, *, limit: int = LIMIT, window: float = WINDOW_SECONDS,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.limit = limit
        self.window = window
        self._clock = clock
        self._failures: dict[str, deque[float]] = {}

    def retry_after(self, address: str) -> int:
        """Seconds until `address` may try again; 0 when it may try now."""
        failures = self._failures.get(address)
        if failures is None or len(failures) < self.limit:
            return 0
        wait = failures[0] + self.window - self._clock()
        return max(0, math.ceil(wait))

    def failed(self, address: str) -> bool:
        """Count a failed login; True when this failure closes the address for a while."""
        now = self._clock()
        if len(self._failures) >= MAX_ADDRESSES and address not in self._failures:
            self._forget_expired(now)
            if len(self._failures) >= MAX_ADDRESSES:  # still full: the first seen goes
                del self._failures[next(iter(self._failures))]
        failures = self._failures.setdefault(address, deque(maxlen=self.limit))
        failures.append(now)
        return self.retry_after(address) > 0

    def succeeded(self, address: str) -> None:
        self._failures.pop(address, None)

    def _forget_expired(self, now: float) -> None:
        for address in [a for a, f in self._failures.items() if f[-1] + self.window <= now]:
            del self._failures[address]
