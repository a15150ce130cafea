"""Per-key limits: how fast and how many at once a key may call, refused with a 429.

Each API key has a rate limit (requests per window, a moving window kept by the `limits`
library) and a concurrency limit (requests in flight), from its own entry
(`rate=`, `concurrency=`, see `api.keys`) or else the service's defaults,
SUPERVISOR_RATE_LIMIT (none by default) and SUPERVISOR_CONCURRENCY_LIMIT (64). Counts
are kept by key name, so the keys of one app (a key being rotated) share them. A request
past a limit is answered 429 in the service's error shape with `Retry-After` (seconds
until the window frees a request; 1 for concurrency), and counted in
`supervisor_rate_limited_total{key, reason}` (reason: `rate` or `concurrency`).

The counts live in the process. With the default storage (`memory://`) and N workers,
a key's effective limits are N times the configured ones; SUPERVISOR_RATE_LIMIT_STORAGE
names a storage the workers share (`redis://HOST:6379`, with the `redis` package
installed), which makes the rate limit hold across workers and machines. The
concurrency limit is always per process.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterator
from contextlib import contextmanager

from limits import RateLimitItem, parse_many
from limits.errors import ConfigurationError
from limits.storage import storage_from_string
from limits.strategies import MovingWindowRateLimiter

from api.errors import ApiError
from api.keys import Caller
from api.metrics import Metrics
from supervisor.errors import ConfigError
from supervisor.settings import Settings


class Quotas:
    """The rate and concurrency limits of every key, for one app."""

    def __init__(self, *, rate: str = "", concurrency: int = 0, storage: str = "memory://",
                 metrics: Metrics | None = None) -> None:
        self.rate = rate
        self.concurrency = concurrency
        self.metrics = metrics
        self._items: dict[str, list[RateLimitItem]] = {}
        if rate:
            try:
                self._parsed(rate)
            except ValueError:
                raise ConfigError(f"SUPERVISOR_RATE_LIMIT={rate!r} is not a rate limit; "
                                  "write e.g. 20/second or 3/minute;100/hour (or none)"
                                  ) from None
        try:
            self._limiter = MovingWindowRateLimiter(storage_from_string(storage))
        except (ConfigurationError, NotImplementedError, ValueError) as exc:
            raise ConfigError(f"SUPERVISOR_RATE_LIMIT_STORAGE={storage!r}: {exc}; use "
                              "memory:// (per process) or redis://HOST:PORT (shared, with "
                              "the redis package installed)") from None
        self._in_flight: dict[str, int] = {}

    @classmethod
    def configured(cls, settings: Settings, metrics: Metrics | None = None) -> Quotas:
        return cls(rate=settings.rate_limit, concurrency=settings.concurrency_limit,
                   storage=settings.rate_limit_storage, metrics=metrics)

    def in_flight(self, caller: Caller) -> int:
        """The caller's requests in flight in this process."""
        return self._in_flight.get(caller.name, 0)

    @contextmanager
    def admit(self, caller: Caller) -> Iterator[None]:
        """Hold one of the caller's slots for the block; a 429 when a limit is reached."""
        binding = caller.binding
        most = self.concurrency if binding.concurrency is None else binding.concurrency
        if most and self.in_flight(caller) >= most:
            self._refuse(caller, "concurrency", 1,
                         f"the key {caller.name!r} already has {most} request(s) in flight, "
                         f"its concurrency limit; retry when one has finished")
        rate = self.rate if binding.rate is None else binding.rate
        for item in self._parsed(rate) if rate else ():
            if not self._limiter.hit(item, caller.name):
                reset = self._limiter.get_window_stats(item, caller.name).reset_time
                wait = max(1, math.ceil(reset - time.time()))
                self._refuse(caller, "rate", wait,
                             f"the key {caller.name!r} has reached its rate limit ({item}); "
                             f"retry in {wait} s")
        self._in_flight[caller.name] = self.in_flight(caller) + 1
        try:
            yield
        finally:
            left = self._in_flight[caller.name] - 1
            if left:
                self._in_flight[caller.name] = left
            else:
                del self._in_flight[caller.name]

    def _parsed(self, rate: str) -> list[RateLimitItem]:
        found = self._items.get(rate)
        if found is None:
            found = self._items[rate] = list(parse_many(rate))
        return found

    def _refuse(self, caller: Caller, reason: str, wait: int, message: str) -> None:
        if self.metrics is not None:
            self.metrics.limited.labels(caller.name, reason).inc()
        raise ApiError(429, message, code="rate_limited" if reason == "rate" else
                       "too_many_concurrent_requests", headers={"retry-after": str(wait)})
