"""The Anthropic adapter through the official SDK against a server speaking Anthropic's API."""

from __future__ import annotations

from pathlib import Path

import pytest

from supervisor.constitution import Constitution
from supervisor.errors import ConfigError, ProviderRejected, ProviderUnavailable
from supervisor.judge import judge
from supervisor.providers import ChatRequest, ChatResponse, Message
from supervisor.providers.anthropic import AnthropicProvider
from tests.fakes.anthropic_server import (
    FakeAnthropic,
    error,
    message,
    stream_error,
    tool_call,
)
from tests.fakes.scripted import Reply
from tests.providers.conftest import IDS, verdicts

MODEL = "claude-haiku-4-5"
ASK = ChatRequest(messages=(Message("user", "Say hello."),), system="Be brief.")


def provider(fake: FakeAnthropic, **kwargs: float) -> AnthropicProvider:
    return AnthropicProvider(MODEL, api_key="test-key", http_client=fake.client(), **kwargs)


async def test_verdict_arrives_through_a_forced_tool_call(constitution: Constitution) -> None:
    """The judge's schema becomes the one tool, forced; its input is the verdict."""
    fake = FakeAnthropic([tool_call("record_verdicts", verdicts("cite-sources"))])
    result = await judge(provider(fake), constitution.principles, prompt="Q?",
                         answer="Take 800 mg.")
    assert [v.violated for v in result.verdicts] == [False, True]
    body = fake.requests[0].json
    assert body["tool_choice"] == {"type": "tool", "name": "record_verdicts"}
    assert [t["name"] for t in body["tools"]] == ["record_verdicts"]
    enum = body["tools"][0]["input_schema"]["properties"]["verdicts"]["items"][
        "properties"]["principle"]["enum"]
    assert enum == list(IDS)
    assert "Take 800 mg." not in body["system"]
    assert body["messages"][-1]["role"] == "user"
    assert "Take 800 mg." in body["messages"][-1]["content"]
    assert result.usage.calls == 1 and result.usage.input_tokens == 25


async def test_text_answer_and_usage() -> None:
    """A plain answer's text, model, stop reason and token usage come back."""
    fake = FakeAnthropic([message("Hello.", input_tokens=11, output_tokens=3)])
    response = await provider(fake).complete(ASK)
    assert (response.text, response.provider, response.model) == ("Hello.", "anthropic", MODEL)
    assert (response.input_tokens, response.output_tokens) == (11, 3)
    assert response.stop_reason == "end_turn" and response.data is None
    assert fake.requests[0].json["system"] == "Be brief."
    assert "tools" not in fake.requests[0].json


async def test_a_missing_tool_call_gives_no_data() -> None:
    """A schema request answered with prose yields data None (the judge then retries)."""
    fake = FakeAnthropic([message("I think it is fine.")])
    response = await provider(fake).complete(
        ChatRequest(messages=ASK.messages, schema={"type": "object"}, schema_name="v"))
    assert response.data is None


async def test_streaming_over_a_real_loopback_server() -> None:
    """SSE text deltas arrive in order, then the whole answer with its usage."""
    fake = FakeAnthropic([message("Hello there, how are you today?", output_tokens=9)])
    with fake.serve() as url:
        adapter = AnthropicProvider(MODEL, api_key="k", base_url=url)
        items = [item async for item in adapter.stream(ASK)]
    *deltas, final = items
    assert len(deltas) > 1 and all(isinstance(d, str) for d in deltas)
    assert isinstance(final, ChatResponse)
    assert "".join(str(d) for d in deltas) == final.text == "Hello there, how are you today?"
    assert (final.input_tokens, final.output_tokens) == (25, 9)
    assert fake.requests[0].json["stream"] is True


async def test_an_error_event_inside_a_stream_is_retryable() -> None:
    """An overloaded_error event mid-stream maps to ProviderUnavailable with status 529."""
    fake = FakeAnthropic([stream_error("overloaded_error")])
    with pytest.raises(ProviderUnavailable) as caught:
        async for _ in provider(fake).stream(ASK):
            pass
    assert caught.value.status == 529


@pytest.mark.parametrize("status", [400, 401, 403, 404])
async def test_client_errors_are_rejections(status: int) -> None:
    """400/401/403/404 are not worth retrying: ProviderRejected, with the status."""
    fake = FakeAnthropic([error(status, "nope")])
    with pytest.raises(ProviderRejected) as caught:
        await provider(fake).complete(ASK)
    assert caught.value.status == status and "nope" in str(caught.value)


@pytest.mark.parametrize("status", [500, 503, 529])
async def test_server_errors_and_overload_are_retryable(status: int) -> None:
    """500, 503 and 529 overloaded are ProviderUnavailable; the SDK itself does not retry."""
    fake = FakeAnthropic([error(status), message("late")])
    with pytest.raises(ProviderUnavailable) as caught:
        await provider(fake).complete(ASK)
    assert caught.value.status == status
    assert len(fake.requests) == 1


async def test_rate_limit_carries_retry_after() -> None:
    """A 429 keeps the server's retry-after so the resilience layer can honour it."""
    fake = FakeAnthropic([error(429, retry_after="7")])
    with pytest.raises(ProviderUnavailable) as caught:
        await provider(fake).complete(ASK)
    assert (caught.value.status, caught.value.retry_after) == (429, 7.0)


async def test_timeout_is_retryable() -> None:
    """A server slower than the timeout gives ProviderUnavailable, not a hang."""
    fake = FakeAnthropic([Reply(delay=2.0, body=message("late").body)])
    with fake.serve() as url:
        adapter = AnthropicProvider(MODEL, api_key="k", base_url=url, timeout=0.2)
        with pytest.raises(ProviderUnavailable, match="timed out"):
            await adapter.complete(ASK)


async def test_connection_reset_is_retryable() -> None:
    """A connection dropped by the server (TCP reset) is ProviderUnavailable."""
    fake = FakeAnthropic([Reply(reset=True)])
    with fake.serve() as url:
        adapter = AnthropicProvider(MODEL, api_key="k", base_url=url)
        with pytest.raises(ProviderUnavailable, match="connection"):
            await adapter.complete(ASK)


@pytest.mark.parametrize("body", [b"{not json", b'{"id": "msg_1"}', b"[]"])
async def test_malformed_bodies_are_unreadable_not_crashes(body: bytes) -> None:
    """A 200 whose body is not a message is ProviderUnavailable, never a TypeError."""
    fake = FakeAnthropic([Reply(200, body)])
    with pytest.raises(ProviderUnavailable, match="unreadable"):
        await provider(fake).complete(ASK)


async def test_refusal_is_a_rejection() -> None:
    """stop_reason "refusal" is ProviderRejected: asking again will not help."""
    fake = FakeAnthropic([message("", stop_reason="refusal")])
    with pytest.raises(ProviderRejected, match="refused"):
        await provider(fake).complete(ASK)


async def test_base_url_and_key_come_from_the_environment(monkeypatch: pytest.MonkeyPatch
                                                          ) -> None:
    """ANTHROPIC_BASE_URL and ANTHROPIC_API_KEY are honoured through the SDK."""
    fake = FakeAnthropic([message("from env")])
    with fake.serve() as url:
        monkeypatch.setenv("ANTHROPIC_BASE_URL", url)
        monkeypatch.setenv("ANTHROPIC_API_KEY", "env-key")
        response = await AnthropicProvider(MODEL).complete(ASK)
    assert response.text == "from env"
    assert "env-key" in (fake.requests[0].headers.get("x-api-key", "")
                         + fake.requests[0].headers.get("authorization", ""))


@pytest.mark.parametrize("config_dir", ["", "/nonexistent"])
def test_missing_credentials_is_a_config_error(monkeypatch: pytest.MonkeyPatch,
                                               tmp_path: Path, config_dir: str) -> None:
    """No key anywhere (or a broken profile directory): a ConfigError naming the variable."""
    for name in ("ANTHROPIC_API_KEY", "ANTHROPIC_AUTH_TOKEN", "ANTHROPIC_PROFILE",
                 "ANTHROPIC_IDENTITY_TOKEN", "ANTHROPIC_IDENTITY_TOKEN_FILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("ANTHROPIC_CONFIG_DIR", config_dir or str(tmp_path / "anthropic"))
    with pytest.raises(ConfigError, match="ANTHROPIC_API_KEY"):
        AnthropicProvider(MODEL)
