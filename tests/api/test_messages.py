"""The Anthropic-compatible proxy, through the official `anthropic` SDK; and translation
between the fronts and vendor-shaped upstream servers both ways."""

from __future__ import annotations

import anthropic
import openai
import pytest

from supervisor.providers.fake import FakeProvider
from tests.api.conftest import APP_KEY, Serve, Served
from tests.api.test_chat import HEALTHCARE, NORMAL, OVERDOSE, PHI
from tests.fakes.anthropic_server import FakeAnthropic, message
from tests.fakes.openai_server import FakeOpenAI, completion

TURN = [{"role": "user", "content": "Is my pulse normal?"}]


def sdk(served: Served, **kwargs: object) -> anthropic.Anthropic:
    return anthropic.Anthropic(base_url=served.url, api_key=APP_KEY, max_retries=0,
                               # the SDK types each client option; tests pass a few through **kwargs
                               **kwargs)  # type: ignore[arg-type]


def test_message_carries_the_released_text_and_record_id(serve: Serve) -> None:
    """messages.create returns a Message with the verified text; system goes to the model."""
    primary = FakeProvider([NORMAL])
    with serve(primaries={"fake:primary": primary}) as served:
        raw = sdk(served).messages.with_raw_response.create(
            model="fake:primary", max_tokens=64, system="Be brief.", messages=TURN,
            metadata={"user_id": "patient-42"})
        reply = raw.parse()
    assert reply.content[0].text == NORMAL and reply.stop_reason == "end_turn"
    assert raw.headers["x-supervisor-record-id"].startswith("rec_")
    assert primary.calls[0].messages[0].role == "system"
    assert primary.calls[0].max_tokens == 64


def test_redaction_and_refusal_in_anthropic_shape(serve: Serve) -> None:
    """A leaked SSN is redacted; a dangerous dose becomes the refusal (stop_reason refusal)."""
    with serve(primaries={"fake:primary": FakeProvider([PHI, OVERDOSE])}) as served:
        client = sdk(served, default_headers=HEALTHCARE)
        revised = client.messages.create(model="fake:primary", max_tokens=64, messages=TURN)
        blocked = client.messages.create(model="fake:primary", max_tokens=64, messages=TURN)
    assert "536-22-8193" not in revised.content[0].text
    assert "6,000" not in blocked.content[0].text and blocked.stop_reason == "refusal"


def test_stream_helper_gets_the_verified_text(serve: Serve) -> None:
    """messages.stream(...) accumulates the released text and the final message."""
    with (serve(primaries={"fake:primary": FakeProvider([NORMAL])}) as served,
          sdk(served).messages.stream(model="fake:primary", max_tokens=64,
                                      messages=TURN) as stream):
        pieces = list(stream.text_stream)
        final = stream.get_final_message()
    assert "".join(pieces) == NORMAL and len(pieces) > 1
    assert final.content[0].text == NORMAL


def test_blocked_stream_raises_from_the_error_event(serve: Serve) -> None:
    """A withheld streamed answer ends with Anthropic's `error` event; the SDK raises it."""
    with (serve(primaries={"fake:primary": FakeProvider([OVERDOSE])}) as served,
          pytest.raises(anthropic.APIStatusError) as caught,
          sdk(served, default_headers=HEALTHCARE).messages.stream(
              model="fake:primary", max_tokens=64, messages=TURN) as stream):
        stream.get_final_text()
    assert "blocked" in str(caught.value) and "6,000" not in str(caught.value)


def test_missing_max_tokens_is_an_anthropic_invalid_request(serve: Serve) -> None:
    """Validation errors use Anthropic's error body on this front."""
    with serve() as served:
        response = served.client().post("/v1/messages", json={"model": "fake:primary",
                                                               "messages": TURN})
    assert response.status_code == 400
    body = response.json()
    assert body["type"] == "error" and body["error"]["type"] == "invalid_request_error"
    assert "max_tokens" in body["error"]["message"]


def test_openai_front_reaches_an_anthropic_upstream(serve: Serve,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """An OpenAI-format app moves to an Anthropic model by changing only `model`."""
    upstream = FakeAnthropic([message(NORMAL)])
    with upstream.serve() as url:
        monkeypatch.setenv("ANTHROPIC_BASE_URL", url)
        monkeypatch.setenv("ANTHROPIC_API_KEY", "vendor-key")
        with serve() as served:
            client = openai.OpenAI(base_url=served.url + "/v1", api_key=APP_KEY,
                                   max_retries=0)
            reply = client.chat.completions.create(
                model="anthropic:claude-haiku-4-5",
                messages=[{"role": "system", "content": "Be brief."}, *TURN])
    assert reply.choices[0].message.content == NORMAL
    sent = upstream.requests[0].body
    assert sent["model"] == "claude-haiku-4-5" and sent["system"] == "Be brief."


def test_anthropic_front_reaches_an_openai_upstream(serve: Serve,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """An Anthropic-format app reaches an OpenAI-compatible server, streaming included."""
    upstream = FakeOpenAI([completion(NORMAL)])
    with upstream.serve() as url:
        monkeypatch.setenv("OPENAI_BASE_URL", url + "/v1")
        monkeypatch.setenv("OPENAI_API_KEY", "vendor-key")
        with (serve() as served,
              sdk(served).messages.stream(model="openai:gpt-4o-mini", max_tokens=64,
                                          messages=TURN) as stream):
            text = stream.get_final_text()
    assert text == NORMAL
    assert upstream.requests[0].body["model"] == "gpt-4o-mini"
