"""Resilience around model calls: timeouts, retries, circuit breakers, a fallback chain.

`Resilient` is itself a Provider wrapping an ordered list of Providers (one, or a
fallback chain across vendors). Per call:

- each attempt runs under a per-call timeout (SUPERVISOR_CALL_TIMEOUT), unless the
  policy has none (a local model: the supervision's deadline bounds it instead);
- a `ProviderUnavailable` (429, 5xx, 529, timeout, reset) is retried a bounded number of
  times with full-jitter exponential backoff, waiting at least the server's
  `retry-after` (a wait longer than the cap moves on to the next provider instead);
- a `ProviderRejected` (400, 401, refusal) is never retried on the same provider;
- each provider has a circuit breaker: after `threshold` consecutive failures it opens
  and calls skip that provider at once; after `cooldown` seconds one trial call is let
  through (half-open) and its outcome closes or re-opens the breaker;
- the next provider in the chain takes over when one fails or its breaker is open.

Every attempt's outcome goes back to the caller: in `ChatResponse.raw["attempts"]` on
success, in the exception's message when nothing answered. Nothing answering ends in
ProviderUnavailable (or ProviderRejected when every provider refused), which the
pipeline turns into an `error` decision. Clock, sleep and randomness are injectable so
tests never wait for real.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any, Literal, TypeVar

from supervisor.errors import ConfigError, ProviderError, ProviderRejected, ProviderUnavailable
from supervisor.loading import Loadable
from supervisor.providers import ChatRequest, ChatResponse, Provider

T = TypeVar("T")
CallResult = Literal["ok", "unavailable", "timeout", "rejected", "circuit-open", "gave-up"]
Clock = Callable[[], float]
Sleep = Callable[[float], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How hard to try one provider before the next one takes over.

    `timeout` bounds one attempt; None sets no bound of its own (the caller's deadline
    still holds).
    """

    attempts: int = 3
    base_delay: float = 0.25
    max_delay: float = 4.0
    max_retry_after: float = 10.0
    timeout: float | None = 20.0

    def backoff(self, attempt: int, rng: Callable[[], float]) -> float:
        """Full jitter: a uniform wait in [0, min(max_delay, base_delay * 2^(attempt-1))]."""
        return rng() * min(self.max_delay, self.base_delay * 2.0 ** (attempt - 1))


@dataclass(frozen=True, slots=True)
class Attempt:
    """What happened to one attempt on one provider, and how long we waited before it."""

    provider: str
    outcome: CallResult
    status: int | None = None
    detail: str = ""
    waited_s: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready view, as it travels in `ChatResponse.raw["attempts"]`."""
        return {"provider": self.provider, "outcome": self.outcome, "status": self.status,
                "detail": self.detail, "waited_s": round(self.waited_s, 3)}


class CircuitBreaker:
    """Closed, open after `threshold` consecutive failures, half-open after `cooldown` s."""

    def __init__(self, *, threshold: int = 5, cooldown: float = 30.0,
                 clock: Clock = time.monotonic) -> None:
        if threshold < 1 or cooldown < 0:
            raise ConfigError("a circuit breaker needs threshold >= 1 and cooldown >= 0")
        self.threshold = threshold
        self.cooldown = cooldown
        self.clock = clock
        self.failures = 0
        self._opened_at: float | None = None
        self._trial = False

    @property
    def state(self) -> Literal["closed", "open", "half-open"]:
        """Where the breaker stands now."""
        if self._opened_at is None:
            return "closed"
        return "half-open" if self.clock() - self._opened_at >= self.cooldown else "open"

    def allow(self) -> bool:
        """Whether a call may go through now; half-open lets exactly one trial call pass."""
        state = self.state
        if state == "closed":
            return True
        if state == "half-open" and not self._trial:
            self._trial = True
            return True
        return False

    def succeeded(self) -> None:
        """The provider answered: close the breaker."""
        self.failures, self._opened_at, self._trial = 0, None, False

    def failed(self) -> None:
        """The provider failed: count it; open (again) at the threshold or after a trial."""
        self.failures += 1
        if self._trial or self.failures >= self.threshold:
            self._opened_at = self.clock()
        self._trial = False

    def abandoned(self) -> None:
        """A call was cancelled from outside: free the trial slot, count nothing."""
        self._trial = False


class Resilient:
    """A Provider that tries `providers` in order with retries, timeouts and breakers."""

    def __init__(self, providers: Sequence[Provider], *, policy: RetryPolicy | None = None,
                 policies: Sequence[RetryPolicy] | None = None,
                 breakers: Sequence[CircuitBreaker] | None = None, threshold: int = 5,
                 cooldown: float = 30.0, clock: Clock = time.monotonic,
                 sleep: Sleep = asyncio.sleep, rng: Callable[[], float] = random.random) -> None:
        if not providers:
            raise ConfigError("a fallback chain needs at least one model")
        self.providers = tuple(providers)
        self.policy = policy or RetryPolicy()
        self.policies = tuple(policies) if policies is not None else (self.policy,) * len(
            self.providers)
        self.breakers = tuple(breakers) if breakers is not None else tuple(
            CircuitBreaker(threshold=threshold, cooldown=cooldown, clock=clock)
            for _ in self.providers)
        if not len(self.breakers) == len(self.policies) == len(self.providers):
            raise ConfigError("give one circuit breaker and one retry policy per provider")
        self.name = ",".join(p.name for p in self.providers)
        self._sleep = sleep
        self._rng = rng

    async def load(self) -> bool:
        """Load every provider of the chain that has a load step (a local model), once.

        A load that fails is left to the call, which reports it and falls back to the
        next provider as for any other failure. True when it had to wait for a load.
        """
        waited = False
        for provider in self.providers:
            if isinstance(provider, Loadable):
                try:
                    waited = await provider.load() or waited
                except ProviderError:
                    continue
        return waited

    async def complete(self, request: ChatRequest) -> ChatResponse:
        """The first answer any provider gives; its attempts are in `raw["attempts"]`."""
        response, attempts = await self._first(request, lambda p: p.complete(request))
        return replace(response, raw={**response.raw,
                                      "attempts": [a.to_dict() for a in attempts]})

    async def stream(self, request: ChatRequest) -> AsyncIterator[str | ChatResponse]:
        """Stream from the first provider that starts answering.

        Failures before the first chunk are retried and fall back like `complete`; once
        a chunk has been yielded, a failure propagates (sent text cannot be taken back).
        """
        (first, rest), attempts = await self._first(request, lambda p: _open(p, request))
        trail = [a.to_dict() for a in attempts]
        if isinstance(first, ChatResponse):
            yield replace(first, raw={**first.raw, "attempts": trail})
            return
        yield first
        async for item in rest:
            yield replace(item, raw={**item.raw, "attempts": trail}) \
                if isinstance(item, ChatResponse) else item

    async def _first(self, request: ChatRequest, call: Callable[[Provider], Awaitable[T]]
                     ) -> tuple[T, list[Attempt]]:
        attempts: list[Attempt] = []
        for provider, breaker, policy in zip(self.providers, self.breakers, self.policies,
                                             strict=True):
            result = await self._try(provider, breaker, policy, request, call, attempts)
            if result is not None:
                return result[0], attempts
        raise _exhausted(attempts)

    async def _try(self, provider: Provider, breaker: CircuitBreaker, policy: RetryPolicy,
                   request: ChatRequest, call: Callable[[Provider], Awaitable[T]],
                   attempts: list[Attempt]) -> tuple[T] | None:
        """Up to `policy.attempts` tries on one provider; None when it did not answer."""
        timeout = request.timeout or policy.timeout
        waited = 0.0
        for number in range(1, policy.attempts + 1):
            if not breaker.allow():
                attempts.append(Attempt(provider.name, "circuit-open", waited_s=waited,
                                        detail=f"{breaker.failures} consecutive failures"))
                return None
            try:
                async with asyncio.timeout(timeout):
                    result = await call(provider)
            except TimeoutError:
                breaker.failed()
                failure: ProviderError = ProviderUnavailable(
                    f"{provider.name} gave no answer within {timeout:g} s "
                    "(SUPERVISOR_CALL_TIMEOUT sets it)" if timeout is not None
                    else f"{provider.name} timed out", provider=provider.name)
                attempts.append(Attempt(provider.name, "timeout", None, str(failure), waited))
            except ProviderUnavailable as exc:
                breaker.failed()
                failure = exc
                attempts.append(Attempt(provider.name, "unavailable", exc.status, str(exc),
                                        waited))
            except ProviderRejected as exc:
                breaker.succeeded()  # it answered: the service is up, the request is not
                attempts.append(Attempt(provider.name, "rejected", exc.status, str(exc),
                                        waited))
                return None
            except BaseException:
                breaker.abandoned()
                raise
            else:
                breaker.succeeded()
                attempts.append(Attempt(provider.name, "ok", waited_s=waited))
                return (result,)
            if number == policy.attempts:
                return None
            waited = policy.backoff(number, self._rng)
            asked = failure.retry_after if isinstance(failure, ProviderUnavailable) else None
            if asked is not None:
                if asked > policy.max_retry_after:
                    attempts.append(Attempt(provider.name, "gave-up", detail=(
                        f"retry-after {asked:g} s exceeds the {policy.max_retry_after:g}"
                        " s cap")))
                    return None
                waited = max(waited, asked)
            await self._sleep(waited)
        return None


async def _open(provider: Provider, request: ChatRequest
                ) -> tuple[str | ChatResponse, AsyncIterator[str | ChatResponse]]:
    """Start a stream and wait for its first item.

    A provider without `stream` answers whole: its text is the one delta, then the response.
    """
    streamer = getattr(provider, "stream", None)
    if streamer is None:
        response = await provider.complete(request)
        return response.text, _once(response)
    iterator: AsyncIterator[str | ChatResponse] = streamer(request).__aiter__()
    try:
        first = await iterator.__anext__()
    except StopAsyncIteration:
        raise ProviderUnavailable(f"{provider.name} ended its stream without an answer",
                                  provider=provider.name) from None
    return first, iterator


async def _once(response: ChatResponse) -> AsyncIterator[str | ChatResponse]:
    yield response


def _exhausted(attempts: Sequence[Attempt]) -> ProviderError:
    """One error for a chain that gave no answer, summing up what each provider did."""
    groups: list[tuple[str, int]] = []
    for a in attempts:
        label = f"{a.provider}: {a.outcome}" + (f" HTTP {a.status}" if a.status else "") + (
            f" ({a.detail})" if a.outcome in {"circuit-open", "gave-up"} else "")
        if groups and groups[-1][0] == label:
            groups[-1] = (label, groups[-1][1] + 1)
        else:
            groups.append((label, 1))
    calls = sum(a.outcome in {"unavailable", "timeout", "rejected"} for a in attempts)
    message = f"no model answered ({calls} calls): " + "; ".join(
        label + (f" x{count}" if count > 1 else "") for label, count in groups)
    last = attempts[-1] if attempts else Attempt("", "unavailable")
    if attempts and all(a.outcome == "rejected" for a in attempts):
        return ProviderRejected(message + f"; last: {last.detail}", provider=last.provider,
                                status=last.status)
    return ProviderUnavailable(message, provider=last.provider, status=last.status)
