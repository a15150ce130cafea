"""Timeouts, bounded jittered retries, circuit breakers and the fallback chain."""

from __future__ import annotations

import asyncio

import pytest

from supervisor.errors import ProviderRejected, ProviderUnavailable
from supervisor.providers import ChatRequest, ChatResponse, Message
from supervisor.providers.fake import FakeProvider, Reply
from supervisor.providers.resilience import CircuitBreaker, Resilient, RetryPolicy

ASK = ChatRequest(messages=(Message("user", "hi"),))


class Clock:
    """A clock that moves only when told to, and a sleep that moves it (no real waiting)."""

    def __init__(self) -> None:
        self.now = 0.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def down(status: int = 529, retry_after: float | None = None) -> ProviderUnavailable:
    return ProviderUnavailable(f"HTTP {status}", status=status, retry_after=retry_after)


def chain(*providers: FakeProvider, clock: Clock, attempts: int = 3, threshold: int = 5,
          timeout: float = 5.0, max_retry_after: float = 10.0) -> Resilient:
    return Resilient(providers, policy=RetryPolicy(attempts=attempts, base_delay=1.0,
                                                   max_delay=8.0, timeout=timeout,
                                                   max_retry_after=max_retry_after),
                     threshold=threshold, cooldown=30.0, clock=clock, sleep=clock.sleep,
                     rng=lambda: 1.0)


async def test_retries_unavailable_then_answers_and_reports_attempts() -> None:
    """Two 529s then an answer: three calls, exponential waits, attempts in raw."""
    clock = Clock()
    primary = FakeProvider([down(), down(), "ok"], name="anthropic:m")
    response = await chain(primary, clock=clock).complete(ASK)
    assert response.text == "ok" and len(primary.calls) == 3
    assert clock.slept == [1.0, 2.0]  # full jitter with rng()=1: the cap of each round
    outcomes = [(a["outcome"], a["status"]) for a in response.raw["attempts"]]
    assert outcomes == [("unavailable", 529), ("unavailable", 529), ("ok", None)]


async def test_jitter_is_drawn_below_the_exponential_cap() -> None:
    """With rng()=0.25 each wait is a quarter of min(max_delay, base * 2^n)."""
    clock = Clock()
    resilient = Resilient([FakeProvider([down(), down(), down(), "ok"])],
                          policy=RetryPolicy(attempts=4, base_delay=1.0, max_delay=3.0),
                          clock=clock, sleep=clock.sleep, rng=lambda: 0.25)
    await resilient.complete(ASK)
    assert clock.slept == [0.25, 0.5, 0.75]


async def test_retry_after_is_honoured() -> None:
    """A 429 asking for 6 s is waited out in full, even when the backoff is shorter."""
    clock = Clock()
    provider = FakeProvider([down(429, retry_after=6.0), "ok"])
    await chain(provider, clock=clock).complete(ASK)
    assert clock.slept == [6.0]


async def test_retry_after_beyond_the_cap_moves_on_to_the_fallback() -> None:
    """A server asking for 120 s is not waited for: the next vendor answers now."""
    clock = Clock()
    first = FakeProvider([down(429, retry_after=120.0)], name="anthropic:m")
    second = FakeProvider(["from openai"], name="openai:m")
    response = await chain(first, second, clock=clock).complete(ASK)
    assert response.text == "from openai" and clock.slept == []
    assert [a["outcome"] for a in response.raw["attempts"]] == ["unavailable", "gave-up", "ok"]


async def test_rejections_are_not_retried() -> None:
    """A 400 is tried once; with no fallback it surfaces as ProviderRejected."""
    clock = Clock()
    provider = FakeProvider([ProviderRejected("HTTP 400", status=400), "never"])
    with pytest.raises(ProviderRejected, match="1 calls"):
        await chain(provider, clock=clock).complete(ASK)
    assert len(provider.calls) == 1 and clock.slept == []


async def test_retries_are_bounded_and_end_unavailable() -> None:
    """A vendor overloaded on every call is tried `attempts` times, then ProviderUnavailable."""
    clock = Clock()
    provider = FakeProvider(lambda request: down(), name="anthropic:m")
    with pytest.raises(ProviderUnavailable, match=r"anthropic:m: unavailable HTTP 529 x3"):
        await chain(provider, clock=clock).complete(ASK)
    assert len(provider.calls) == 3


async def test_per_call_timeout_counts_as_unavailable() -> None:
    """A provider that hangs is cut off at the per-call timeout and the fallback answers."""

    class Hanging:
        name = "openai:slow"

        async def complete(self, request: ChatRequest) -> ChatResponse:
            await asyncio.sleep(3600)
            raise AssertionError("unreachable")

    clock = Clock()
    backup = FakeProvider(["backup"], name="local:smollm2")
    resilient = Resilient([Hanging(), backup],
                          policy=RetryPolicy(attempts=1, timeout=0.01), clock=clock,
                          sleep=clock.sleep)
    response = await resilient.complete(ASK)
    assert response.text == "backup"
    assert response.raw["attempts"][0]["outcome"] == "timeout"


async def test_fallback_takes_over_when_the_first_vendor_is_down() -> None:
    """Every attempt on the first vendor fails; the second vendor's answer is returned."""
    clock = Clock()
    first = FakeProvider(lambda request: down(503), name="anthropic:m")
    second = FakeProvider(["from openai"], name="openai:m")
    resilient = chain(first, second, clock=clock)
    response = await resilient.complete(ASK)
    assert response.text == "from openai" and len(first.calls) == 3
    assert resilient.name == "anthropic:m,openai:m"


async def test_breaker_opens_and_skips_the_broken_vendor() -> None:
    """After `threshold` consecutive failures the breaker opens: no more calls go there."""
    clock = Clock()
    first = FakeProvider(lambda request: down(), name="anthropic:m")
    second = FakeProvider(lambda request: "from openai", name="openai:m")
    resilient = chain(first, second, clock=clock, attempts=2, threshold=4)
    await resilient.complete(ASK)
    await resilient.complete(ASK)
    assert len(first.calls) == 4 and resilient.breakers[0].state == "open"
    response = await resilient.complete(ASK)
    assert len(first.calls) == 4  # skipped while open
    assert response.raw["attempts"][0]["outcome"] == "circuit-open"


async def test_breaker_half_opens_after_cooldown_and_closes_on_success() -> None:
    """After the cool-down one trial call goes through; its success closes the breaker."""
    clock = Clock()
    replies: list[Reply] = [down(), down(), "recovered", "again"]
    first = FakeProvider(lambda request: replies.pop(0), name="anthropic:m")
    second = FakeProvider(lambda request: "backup", name="openai:m")
    resilient = chain(first, second, clock=clock, attempts=1, threshold=2)
    await resilient.complete(ASK)
    await resilient.complete(ASK)
    assert resilient.breakers[0].state == "open"
    clock.now += 31
    assert resilient.breakers[0].state == "half-open"
    assert (await resilient.complete(ASK)).text == "recovered"
    assert resilient.breakers[0].state == "closed"
    assert (await resilient.complete(ASK)).text == "again"


def test_failed_trial_reopens_the_breaker() -> None:
    """A half-open breaker lets one trial through; its failure opens it for a new cool-down."""
    clock = Clock()
    breaker = CircuitBreaker(threshold=1, cooldown=10.0, clock=clock)
    breaker.failed()
    assert not breaker.allow()
    clock.now = 10.0
    assert breaker.allow() and not breaker.allow()  # exactly one trial
    breaker.failed()
    assert breaker.state == "open"
    clock.now = 15.0
    assert not breaker.allow()


async def test_all_providers_failing_names_each_one() -> None:
    """When nothing answers, the error says what each provider did."""
    clock = Clock()
    first = FakeProvider(lambda request: down(529), name="anthropic:m")
    second = FakeProvider(lambda request: ProviderRejected("HTTP 401", status=401),
                          name="openai:m")
    with pytest.raises(ProviderUnavailable) as caught:
        await chain(first, second, clock=clock, attempts=2).complete(ASK)
    message = str(caught.value)
    assert "anthropic:m: unavailable HTTP 529 x2" in message
    assert "openai:m: rejected HTTP 401" in message


async def test_stream_falls_back_before_the_first_chunk() -> None:
    """A stream that fails before any text falls back; the answer streams from the backup."""
    clock = Clock()
    first = FakeProvider(lambda request: down(), name="anthropic:m")
    second = FakeProvider(["whole answer"], name="openai:m")
    items = [i async for i in chain(first, second, clock=clock, attempts=1).stream(ASK)]
    assert items[0] == "whole answer" and isinstance(items[-1], ChatResponse)
    assert [a["outcome"] for a in items[-1].raw["attempts"]] == ["unavailable", "ok"]
