"""The OpenAI adapter through the official SDK against a server speaking OpenAI's API."""

from __future__ import annotations

from pathlib import Path

import pytest

from supervisor.constitution import Constitution
from supervisor.errors import ConfigError, ProviderRejected, ProviderUnavailable
from supervisor.judge import judge, verdict_schema
from supervisor.providers import ChatRequest, ChatResponse, Message
from supervisor.providers.openai import OpenAIProvider, strict_schema
from tests.fakes.openai_server import FakeOpenAI, completion, error, json_answer
from tests.fakes.scripted import Reply
from tests.providers.conftest import IDS, verdicts
from tests.test_judge import many, needed

MODEL = "gpt-4o-mini"
ASK = ChatRequest(messages=(Message("user", "Say hello."),), system="Be brief.")


def provider(fake: FakeOpenAI, **kwargs: float) -> OpenAIProvider:
    return OpenAIProvider(MODEL, api_key="test-key", http_client=fake.client(), **kwargs)


async def test_verdict_arrives_through_a_strict_json_schema(constitution: Constitution) -> None:
    """The judge's schema is sent strict; the JSON content is parsed into the verdict."""
    fake = FakeOpenAI([json_answer(verdicts("no-dosing"))])
    result = await judge(provider(fake), constitution.principles, prompt="Q?",
                         answer="Take 800 mg.")
    assert [v.violated for v in result.verdicts] == [True, False]
    body = fake.requests[0].json
    form = body["response_format"]
    assert form["type"] == "json_schema" and form["json_schema"]["strict"] is True
    assert form["json_schema"]["name"] == "record_verdicts"
    item = form["json_schema"]["schema"]["properties"]["verdicts"]["items"]
    assert item["properties"]["principle"]["enum"] == list(IDS)
    assert body["messages"][0]["role"] == "system"
    assert "Take 800 mg." not in body["messages"][0]["content"]
    assert "Take 800 mg." in body["messages"][-1]["content"]
    assert result.usage.input_tokens == 30 and result.usage.output_tokens == 15


def test_strict_schema_closes_objects_and_drops_what_strict_mode_rejects() -> None:
    """Every object is closed with all properties required; minItems/maxItems are gone."""
    schema = strict_schema(verdict_schema(["a", "b"]))
    verdicts_schema = schema["properties"]["verdicts"]
    assert "minItems" not in verdicts_schema and "maxItems" not in verdicts_schema
    item = verdicts_schema["items"]
    assert item["additionalProperties"] is False
    assert item["required"] == list(item["properties"])
    loose = strict_schema({"type": "object", "properties": {
        "a": {"type": "string"}, "b": {"type": "integer", "minimum": 0}}, "required": ["a"]})
    assert loose["required"] == ["a", "b"] and loose["additionalProperties"] is False
    assert loose["properties"]["b"] == {"type": ["integer", "null"]}


async def test_prose_instead_of_json_gives_no_data() -> None:
    """Content that is not a JSON object yields data None; nothing parses prose."""
    fake = FakeOpenAI([completion("The answer is compliant.")])
    response = await provider(fake).complete(
        ChatRequest(messages=ASK.messages, schema={"type": "object"}))
    assert response.data is None and response.text == "The answer is compliant."


async def test_official_endpoint_gets_max_completion_tokens_others_max_tokens() -> None:
    """api.openai.com takes max_completion_tokens; a compatible server gets max_tokens."""
    fake = FakeOpenAI([completion("a"), completion("b")])
    await provider(fake).complete(ASK)
    with fake.serve() as url:
        await OpenAIProvider(MODEL, api_key="k", base_url=url + "/v1").complete(ASK)
    official, compatible = (r.json for r in fake.requests)
    assert official["max_completion_tokens"] == 1024 and "max_tokens" not in official
    assert compatible["max_tokens"] == 1024 and "max_completion_tokens" not in compatible


async def test_streaming_over_a_real_loopback_server() -> None:
    """SSE chunks arrive as deltas, then the whole answer with the usage chunk's tokens."""
    fake = FakeOpenAI([completion("Hello there, how are you today?", completion_tokens=9)])
    with fake.serve() as url:
        adapter = OpenAIProvider(MODEL, api_key="k", base_url=url + "/v1")
        items = [item async for item in adapter.stream(ASK)]
    *deltas, final = items
    assert len(deltas) > 1 and all(isinstance(d, str) for d in deltas)
    assert isinstance(final, ChatResponse)
    assert "".join(str(d) for d in deltas) == final.text == "Hello there, how are you today?"
    assert (final.input_tokens, final.output_tokens) == (30, 9)
    assert fake.requests[0].json["stream"] is True
    assert fake.requests[0].path == "/v1/chat/completions"


async def test_streamed_refusal_is_a_rejection() -> None:
    """A refusal delta in the stream ends in ProviderRejected."""
    fake = FakeOpenAI([completion(None, refusal="I can't help with that.")])
    with pytest.raises(ProviderRejected, match="can't help"):
        async for _ in provider(fake).stream(ASK):
            pass


@pytest.mark.parametrize("status", [400, 401, 403, 404])
async def test_client_errors_are_rejections(status: int) -> None:
    """400/401/403/404 are not worth retrying: ProviderRejected, with the status."""
    fake = FakeOpenAI([error(status, "nope")])
    with pytest.raises(ProviderRejected) as caught:
        await provider(fake).complete(ASK)
    assert caught.value.status == status and "nope" in str(caught.value)


@pytest.mark.parametrize("status", [500, 502, 503])
async def test_server_errors_are_retryable(status: int) -> None:
    """5xx is ProviderUnavailable; the SDK itself sends exactly one request."""
    fake = FakeOpenAI([error(status), completion("late")])
    with pytest.raises(ProviderUnavailable) as caught:
        await provider(fake).complete(ASK)
    assert caught.value.status == status and len(fake.requests) == 1


async def test_rate_limit_carries_retry_after() -> None:
    """A 429 keeps the server's retry-after (seconds) for the resilience layer."""
    fake = FakeOpenAI([error(429, retry_after="2")])
    with pytest.raises(ProviderUnavailable) as caught:
        await provider(fake).complete(ASK)
    assert (caught.value.status, caught.value.retry_after) == (429, 2.0)


async def test_timeout_is_retryable() -> None:
    """A server slower than the timeout gives ProviderUnavailable, not a hang."""
    fake = FakeOpenAI([Reply(delay=2.0, body=completion("late").body)])
    with fake.serve() as url:
        adapter = OpenAIProvider(MODEL, api_key="k", base_url=url + "/v1", timeout=0.2)
        with pytest.raises(ProviderUnavailable, match="timed out"):
            await adapter.complete(ASK)


async def test_connection_reset_is_retryable() -> None:
    """A connection dropped by the server (TCP reset) is ProviderUnavailable."""
    fake = FakeOpenAI([Reply(reset=True)])
    with fake.serve() as url:
        adapter = OpenAIProvider(MODEL, api_key="k", base_url=url + "/v1")
        with pytest.raises(ProviderUnavailable, match="connection"):
            await adapter.complete(ASK)


@pytest.mark.parametrize("body", [b"{not json", b'{"id": "chatcmpl-1"}',
                                  b'{"id": "x", "choices": []}'])
async def test_malformed_bodies_are_unreadable_not_crashes(body: bytes) -> None:
    """A 200 whose body is not a chat.completion is ProviderUnavailable."""
    fake = FakeOpenAI([Reply(200, body)])
    with pytest.raises(ProviderUnavailable, match="unreadable"):
        await provider(fake).complete(ASK)


async def test_refusal_is_a_rejection() -> None:
    """message.refusal set is ProviderRejected, with the model's words."""
    fake = FakeOpenAI([completion(None, refusal="I can't help with that.")])
    with pytest.raises(ProviderRejected, match="can't help"):
        await provider(fake).complete(
            ChatRequest(messages=ASK.messages, schema={"type": "object"}))


async def test_base_url_and_key_come_from_the_environment(monkeypatch: pytest.MonkeyPatch
                                                          ) -> None:
    """OPENAI_BASE_URL and OPENAI_API_KEY reach any OpenAI-compatible server via the SDK."""
    fake = FakeOpenAI([completion("from env")])
    with fake.serve() as url:
        monkeypatch.setenv("OPENAI_BASE_URL", url + "/v1")
        monkeypatch.setenv("OPENAI_API_KEY", "env-key")
        response = await OpenAIProvider(MODEL).complete(ASK)
    assert response.text == "from env"
    assert fake.requests[0].headers["authorization"] == "Bearer env-key"


def test_missing_key_is_a_config_error(monkeypatch: pytest.MonkeyPatch) -> None:
    """No OPENAI_API_KEY: a ConfigError that names it."""
    for name in ("OPENAI_API_KEY", "OPENAI_ADMIN_KEY"):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(ConfigError, match="OPENAI_API_KEY"):
        OpenAIProvider(MODEL)


async def test_judge_call_for_sixty_principles_asks_for_enough_tokens(tmp_path: Path) -> None:
    """On the wire: the request for 60 principles asks for room for 60 realistic verdicts."""
    rules = many(60, tmp_path)
    ids = tuple(p.id for p in rules.principles)
    fake = FakeOpenAI([json_answer({"verdicts": [
        {"principle": i, "violated": False, "confidence": 0.9, "rationale": "fine",
         "evidence": []} for i in ids]})])
    result = await judge(provider(fake), rules.principles, prompt="Q?", answer="A.")
    assert result.error == ""
    body = fake.requests[0].json
    assert body["max_completion_tokens"] >= needed(60)
