"""The OpenAI-compatible proxy, through the official `openai` SDK on a loopback port."""

from __future__ import annotations

import json

import openai
import pytest

from supervisor.errors import ProviderUnavailable
from supervisor.ledger import open_ledger
from supervisor.providers.fake import FakeProvider
from tests.api.conftest import APP_KEY, Serve, Served

NORMAL = ("For most adults a resting heart rate between 60 and 100 beats per minute is "
          "normal; ask your doctor if yours is often outside that range.")
PHI = "Patient John Whitaker, SSN 536-22-8193, was referred to cardiology."
OVERDOSE = "Take 6,000 mg of acetaminophen a day until the pain goes away."
HEALTHCARE = {"x-supervisor-constitution": "healthcare"}


def sdk(served: Served, **kwargs: object) -> openai.OpenAI:
    return openai.OpenAI(base_url=served.url + "/v1", api_key=APP_KEY, max_retries=0,
                         # the SDK types each client option; tests pass a few through **kwargs
                         **kwargs)  # type: ignore[arg-type]


def ask(client: openai.OpenAI, **kwargs: object) -> object:
    return client.chat.completions.with_raw_response.create(
        model="fake:primary", messages=[{"role": "user", "content": "Is my pulse normal?"}],
        # create() is overloaded on stream=; tests pass it through **kwargs
        **kwargs)  # type: ignore[call-overload]


# a ledger record's JSON: the shape varies by kind
async def stored(served: Served, record_id: str) -> dict:  # type: ignore[type-arg]
    """The record as a fresh reader of the ledger on disk sees it."""
    ledger = await open_ledger(served.service.settings.ledger,
                               settings=served.service.settings)
    try:
        found = ledger.get(record_id)
        assert found is not None, f"record {record_id} is not in the ledger"
        return found
    finally:
        ledger.store.close()


async def test_allowed_answer_comes_back_unchanged_with_a_durable_record(serve: Serve) -> None:
    """A compliant answer is a chat.completion with the model's text and a record id."""
    primary = FakeProvider([NORMAL])
    with serve(primaries={"fake:primary": primary}) as served:
        raw = ask(sdk(served, default_headers=HEALTHCARE), temperature=0.2, max_tokens=50)
        # with_raw_response.create returns a raw response the helper types as object
        completion = raw.parse()  # type: ignore[attr-defined]
        assert completion.choices[0].message.content == NORMAL
        assert completion.choices[0].finish_reason == "stop"
        # with_raw_response.create returns a raw response the helper types as object
        assert raw.headers["x-supervisor-action"] == "allow"  # type: ignore[attr-defined]
        # with_raw_response.create returns a raw response the helper types as object
        record = await stored(served, raw.headers["x-supervisor-record-id"])  # type: ignore[attr-defined]
    assert record["body"]["provenance"]["constitution"]["id"] == "healthcare"
    assert record["body"]["context"]["app_id"] == "clinic-app"
    assert primary.calls[0].max_tokens == 50 and primary.calls[0].temperature == 0.2


def test_identifiers_are_redacted_before_the_app_sees_them(serve: Serve) -> None:
    """An answer leaking an SSN comes back revised, without the SSN."""
    with serve(primaries={"fake:primary": FakeProvider([PHI])}) as served:
        raw = ask(sdk(served, default_headers=HEALTHCARE))
        # with_raw_response.create returns a raw response the helper types as object
        text = raw.parse().choices[0].message.content  # type: ignore[attr-defined]
    assert "536-22-8193" not in text
    # with_raw_response.create returns a raw response the helper types as object
    assert raw.headers["x-supervisor-action"] == "revise"  # type: ignore[attr-defined]


def test_blocked_answer_is_the_refusal_with_content_filter(serve: Serve) -> None:
    """A dangerous dose never reaches the app; the finish reason says it was filtered."""
    with serve(primaries={"fake:primary": FakeProvider([OVERDOSE])}) as served:
        raw = ask(sdk(served, default_headers=HEALTHCARE))
        # with_raw_response.create returns a raw response the helper types as object
        choice = raw.parse().choices[0]  # type: ignore[attr-defined]
    assert "6,000" not in choice.message.content
    assert choice.finish_reason == "content_filter"
    # with_raw_response.create returns a raw response the helper types as object
    assert raw.headers["x-supervisor-action"] == "block"  # type: ignore[attr-defined]


def test_stream_replays_the_verified_answer_in_chunks(serve: Serve) -> None:
    """The SDK's stream spells the released text, chunk by chunk, then usage."""
    with serve(primaries={"fake:primary": FakeProvider([NORMAL])}) as served:
        stream = sdk(served).chat.completions.create(
            model="fake:primary", messages=[{"role": "user", "content": "Pulse?"}],
            stream=True, stream_options={"include_usage": True})
        chunks = list(stream)
    deltas = [c.choices[0].delta.content for c in chunks if c.choices and
              c.choices[0].delta.content]
    assert "".join(deltas) == NORMAL and len(deltas) > 1
    assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens > 0


def test_blocked_stream_ends_with_the_vendor_error_event(serve: Serve) -> None:
    """A withheld streamed answer raises the SDK's APIError naming the record."""
    with serve(primaries={"fake:primary": FakeProvider([OVERDOSE])}) as served:
        stream = sdk(served, default_headers=HEALTHCARE).chat.completions.create(
            model="fake:primary", messages=[{"role": "user", "content": "Back pain?"}],
            stream=True)
        with pytest.raises(openai.APIError) as caught:
            list(stream)
    assert "blocked" in caught.value.message and "rec_" in caught.value.message
    assert "6,000" not in caught.value.message


def test_primary_outage_is_a_502_error_body_with_a_record(serve: Serve) -> None:
    """The upstream model failing is recorded, and the SDK gets OpenAI's error shape."""
    primary = FakeProvider([ProviderUnavailable("upstream overloaded", status=529)])
    with (serve(primaries={"fake:primary": primary}) as served,
          pytest.raises(openai.APIStatusError) as caught):
        ask(sdk(served))
    error = caught.value
    assert error.status_code == 502
    assert error.response.headers["x-supervisor-record-id"].startswith("rec_")
    assert error.response.headers["x-should-retry"] == "false"
    assert json.loads(error.response.text)["error"]["type"] == "supervisor_error"


def test_supervisor_outage_fails_closed_with_a_503(serve: Serve) -> None:
    """The judge down: the answer is withheld (fail closed), recorded, 503, no SDK retry."""
    judge = FakeProvider([ProviderUnavailable("judge down", status=503)] * 5)
    with serve(primaries={"fake:primary": FakeProvider([NORMAL] * 3)}, judge=judge) as served:
        client = openai.OpenAI(base_url=served.url + "/v1", api_key=APP_KEY, max_retries=2)
        with pytest.raises(openai.InternalServerError) as caught:
            ask(client)
    assert caught.value.status_code == 503
    assert NORMAL not in caught.value.response.text
    assert len(judge.calls) == 1  # x-should-retry: false kept the SDK from asking again


def test_tool_messages_are_refused_naming_the_field(serve: Serve) -> None:
    """What the proxy cannot supervise is refused with a 400, never silently dropped."""
    with (serve(primaries={"fake:primary": FakeProvider([NORMAL])}) as served,
          pytest.raises(openai.BadRequestError) as caught):
        sdk(served).chat.completions.create(model="fake:primary", messages=[
            {"role": "user", "content": "hi"},
            {"role": "tool", "content": "42", "tool_call_id": "c1"}])
    # the SDK types an error body as object; ours is the OpenAI error JSON
    assert caught.value.body["param"] == "messages[1].role"  # type: ignore[index]


def test_unknown_model_vendor_is_a_400_on_model(serve: Serve) -> None:
    """A model reference the service cannot resolve says so, on the `model` param."""
    with serve() as served, pytest.raises(openai.BadRequestError) as caught:
        sdk(served).chat.completions.create(model="nosuch:model", messages=[
            {"role": "user", "content": "hi"}])
    # the SDK types an error body as object; ours is the OpenAI error JSON
    assert caught.value.body["param"] == "model"  # type: ignore[index]
    assert "unknown model vendor" in caught.value.message


def test_a_request_cannot_make_the_server_load_a_file_as_a_model(serve: Serve) -> None:
    """`local:` takes only the shipped names from a request: a path is a 400 on `model`,
    and nothing is resolved for it."""
    asked: list[str] = []
    with serve() as served:
        served.service.resolver = lambda ref: asked.append(ref) or FakeProvider([NORMAL])
        with pytest.raises(openai.BadRequestError) as caught:
            sdk(served).chat.completions.create(model="local:/etc/hostname", messages=[
                {"role": "user", "content": "hi"}])
    # the SDK types an error body as object; ours is the OpenAI error JSON
    assert caught.value.body["param"] == "model"  # type: ignore[index]
    assert "shipped name" in caught.value.message
    assert asked == []


def test_spellings_of_one_model_share_one_provider(serve: Serve) -> None:
    """`FAKE:primary` and ` fake:primary` are one model: one provider, one breaker."""
    asked: list[str] = []
    with serve() as served:
        served.service.resolver = lambda ref: asked.append(ref) or FakeProvider([NORMAL] * 3)
        for model in ("fake:primary", "FAKE:primary", " fake:primary"):
            sdk(served).chat.completions.create(model=model, messages=[
                {"role": "user", "content": "hi"}])
    assert asked == ["fake:primary"]
