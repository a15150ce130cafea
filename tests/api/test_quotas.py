"""Per-key limits: 429 with Retry-After past a key's rate or concurrency, in the metrics."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager
from dataclasses import dataclass, field, replace
from typing import Any

import httpx2
import pytest

from api import Service
from api.keys import Caller, Keys, parse
from api.quotas import Quotas
from supervisor.errors import ConfigError
from supervisor.providers import ChatRequest, ChatResponse
from supervisor.providers.fake import FakeProvider
from supervisor.settings import Settings, current
from tests.api.conftest import APP_KEY, Served, running

LIMITED_KEY = "limited-key-0123456789abcdef"
ANSWER = "Index funds spread risk across many companies."

Build = Callable[..., AbstractContextManager[Served]]


@dataclass
class HeldPrimary:
    """A primary model that answers only once the test releases it (no sleeping)."""

    name: str = "fake:held"
    entered: threading.Event = field(default_factory=threading.Event)
    release: threading.Event = field(default_factory=threading.Event)
    inner: FakeProvider = field(default_factory=lambda: FakeProvider(lambda _: ANSWER))

    async def complete(self, request: ChatRequest) -> ChatResponse:
        self.entered.set()
        await asyncio.to_thread(self.release.wait, 60)
        return await self.inner.complete(request)


@pytest.fixture
def limited(settings: Settings) -> Build:
    """`with limited(entries, primary=..., **settings) as served:`"""

    def build(entries: str, *, primary: Any = None, **changes: Any
              ) -> AbstractContextManager[Served]:
        chosen = primary or FakeProvider(lambda _: ANSWER, name="fake:primary")
        return running(Service(replace(settings, **changes), keys=Keys(parse(entries)),
                               resolver=lambda _: chosen, warm_primary=False))

    return build


def _limited_count(served: Served, key: str, reason: str) -> float:
    """supervisor_rate_limited_total{key, reason} as /metrics shows it."""
    text = httpx2.get(served.url + "/metrics").text
    wanted = f'supervisor_rate_limited_total{{key="{key}",reason="{reason}"}} '
    lines = [line for line in text.splitlines() if line.startswith(wanted)]
    return float(lines[0].split()[-1]) if lines else 0.0


def test_a_burst_past_a_keys_rate_gets_429_with_retry_after(limited: Build) -> None:
    """Three a minute: the fourth and fifth are 429 with Retry-After; other keys go on."""
    with limited(f"app:burst:{LIMITED_KEY}:rate=3/minute,app:other:{APP_KEY}") as served:
        client = served.client(LIMITED_KEY)
        answers = [client.post("/v1/moderations", json={"input": ANSWER}) for _ in range(5)]
        other = served.client(APP_KEY).post("/v1/moderations", json={"input": ANSWER})
        counted = _limited_count(served, "burst", "rate")
    assert [a.status_code for a in answers] == [200, 200, 200, 429, 429]
    refused = answers[3]
    assert 1 <= int(refused.headers["retry-after"]) <= 60
    error = refused.json()["error"]
    assert error["type"] == "rate_limit_error" and error["code"] == "rate_limited"
    assert "'burst'" in error["message"] and "3 per 1 minute" in error["message"]
    assert other.status_code == 200
    assert counted == 2


def test_the_default_rate_applies_to_old_format_keys(limited: Build) -> None:
    """SUPERVISOR_RATE_LIMIT limits a key without options; `rate=none` lifts it for one."""
    with limited(f"app:{APP_KEY},app:batch:{LIMITED_KEY}:rate=none",
                 rate_limit="2/minute") as served:
        plain = [served.client(APP_KEY).post("/v1/moderations", json={"input": ANSWER})
                 for _ in range(3)]
        batch = [served.client(LIMITED_KEY).post("/v1/moderations", json={"input": ANSWER})
                 for _ in range(3)]
    assert [a.status_code for a in plain] == [200, 200, 429]
    assert [a.status_code for a in batch] == [200, 200, 200]


def test_a_second_request_past_a_concurrency_of_one_is_429(limited: Build) -> None:
    """While one slow request holds the key's only slot, the next is 429; then it is free."""
    primary = HeldPrimary()
    entries = f"app:solo:{LIMITED_KEY}:concurrency=1"
    body = {"prompt": "What is an index fund?"}
    with limited(entries, primary=primary) as served, ThreadPoolExecutor(1) as pool:
        first = pool.submit(served.client(LIMITED_KEY).post, "/v1/supervise", json=body)
        assert primary.entered.wait(60), "the first request never reached the primary"
        second = served.client(LIMITED_KEY).post("/v1/supervise", json=body)
        primary.release.set()
        done = first.result(timeout=60)
        third = served.client(LIMITED_KEY).post("/v1/supervise", json=body)
        counted = _limited_count(served, "solo", "concurrency")
    assert done.status_code == 200 and third.status_code == 200
    assert second.status_code == 429
    assert second.headers["retry-after"] == "1"
    assert second.json()["error"]["code"] == "too_many_concurrent_requests"
    assert counted == 1


def test_a_refused_request_answers_in_the_anthropic_shape_on_messages(limited: Build
                                                                      ) -> None:
    """The Anthropic front's 429 is Anthropic's rate_limit_error body, with Retry-After."""
    with limited(f"app:burst:{LIMITED_KEY}:rate=1/minute") as served:
        client = served.client(LIMITED_KEY)
        body = {"model": "fake:primary", "max_tokens": 50,
                "messages": [{"role": "user", "content": "What is an index fund?"}]}
        answers = [client.post("/v1/messages", json=body) for _ in range(2)]
    assert [a.status_code for a in answers] == [200, 429]
    assert answers[1].json()["error"]["type"] == "rate_limit_error"
    assert "retry-after" in answers[1].headers


def test_a_slot_is_given_back_when_the_request_fails() -> None:
    """An error inside the request frees its slot: a failure never leaks capacity."""
    quotas = Quotas(concurrency=1)
    caller = Caller("solo", "app")
    with pytest.raises(RuntimeError), quotas.admit(caller):
        raise RuntimeError("the route failed")
    assert quotas.in_flight(caller) == 0
    with quotas.admit(caller):
        assert quotas.in_flight(caller) == 1


@pytest.mark.parametrize(("changes", "named"), [
    ({"rate": "fast"}, "SUPERVISOR_RATE_LIMIT='fast'"),
    ({"storage": "nosuch://here"}, "SUPERVISOR_RATE_LIMIT_STORAGE='nosuch://here'"),
])
def test_a_bad_default_limit_is_a_config_error(changes: dict[str, str], named: str) -> None:
    """A default that cannot be read stops the start with the setting named and the fix."""
    with pytest.raises(ConfigError, match=r"e\.g\. 20/second|memory://") as raised:
        # on purpose: raw strings where typed limits are expected
        Quotas(**changes)  # type: ignore[arg-type]
    assert named in str(raised.value)


def test_limit_settings_read_none_and_refuse_nonsense() -> None:
    """SUPERVISOR_CONCURRENCY_LIMIT is a whole number or `none`; the rate `none` is no limit."""
    read = current({"SUPERVISOR_RATE_LIMIT": "None", "SUPERVISOR_CONCURRENCY_LIMIT": "none"})
    assert read.rate_limit == "" and read.concurrency_limit == 0
    assert current({}).concurrency_limit == 64 and current({}).rate_limit == ""
    with pytest.raises(ConfigError, match="SUPERVISOR_CONCURRENCY_LIMIT='many'"):
        current({"SUPERVISOR_CONCURRENCY_LIMIT": "many"})
