"""The three wire formats rewrite only the answer's text, and everything derived from it."""

from __future__ import annotations

import json
from typing import Any

from supervisor.wire.chat import CHAT
from supervisor.wire.messages import MESSAGES
from supervisor.wire.responses import RESPONSES
from supervisor.wire.streams import Event, parse_sse, to_sse
from tests.fakes.anthropic_server import as_events as anthropic_events
from tests.fakes.anthropic_server import message
from tests.fakes.openai_server import as_events as openai_events
from tests.fakes.openai_server import completion
from tests.fakes.scripted import Reply
from tests.middleware.responses_wire import response_body, response_stream


def wire(reply: Reply) -> list[Event]:
    """A scripted reply's events as they cross the wire."""
    return parse_sse(b"".join(reply.sse()))


def datas(events: list[Event]) -> list[Any]:
    """Each event's JSON."""
    return [e.json() for e in events]


def test_chat_stream_recut_keeps_chunk_count_and_other_frames() -> None:
    """Revised chat chunks: same frames, same number of content deltas, new text, [DONE] kept."""
    body = completion("The original answer text here.").body
    events = wire(Reply(events=openai_events(body)))
    assert CHAT.stream_answers(events) == ["The original answer text here."]
    out = CHAT.with_stream_answers(events, ["Revised."])
    assert CHAT.stream_answers(out) == ["Revised."]
    assert len(out) == len(events) and out[-1].data == "[DONE]"
    assert datas(out)[-2] == datas(events)[-2]  # the usage chunk is untouched


def test_chat_choices_are_reviewed_separately() -> None:
    """n=2: each choice is its own answer; only the changed one is rewritten."""
    body = completion("first").body
    body["choices"].append({**body["choices"][0], "index": 1,
                            "message": {"role": "assistant", "content": "second"}})
    assert CHAT.answers(body) == ["first", "second"]
    out = CHAT.with_answers(body, ["first", "2nd"])
    assert out["choices"][0] is body["choices"][0]
    assert out["choices"][1]["message"]["content"] == "2nd"


def test_messages_revision_keeps_tool_use_and_drops_extra_text_blocks() -> None:
    """Anthropic: released text in the first text block, tool_use kept, indices contiguous."""
    body = message("Part one. ", tool=("lookup", {"q": "x"})).body
    body["content"].append({"type": "text", "text": "Part two.",
                            "citations": [{"cited_text": "secret"}]})
    assert MESSAGES.answers(body) == ["Part one. Part two."]
    out = MESSAGES.with_answers(body, ["New."])
    assert [b["type"] for b in out["content"]] == ["text", "tool_use"]
    assert out["content"][0]["text"] == "New."

    events = parse_sse(to_sse(Event.of(d, n) for n, d in anthropic_events(body)))
    assert MESSAGES.stream_answers(events) == ["Part one. Part two."]
    recut = MESSAGES.with_stream_answers(events, ["New answer."])
    assert MESSAGES.stream_answers(recut) == ["New answer."]
    starts = [d for d in datas(recut) if d["type"] == "content_block_start"]
    assert [(s["index"], s["content_block"]["type"]) for s in starts] == [(0, "text"),
                                                                          (1, "tool_use")]
    assert "secret" not in str(datas(recut))


def test_responses_revision_rewrites_every_copy_of_the_text() -> None:
    """Responses: deltas, done events, the completed response; logprobs and annotations emptied."""
    events = wire(response_stream("Old words here.", "Second part."))
    assert RESPONSES.stream_answers(events) == ["Old words here.Second part."]
    out = RESPONSES.with_stream_answers(events, ["New words."])
    assert RESPONSES.stream_answers(out) == ["New words."]
    text = json.dumps(datas(out))
    assert "Old words" not in text and "Second part" not in text
    completed = datas(out)[-1]["response"]
    assert RESPONSES.answers(completed) == ["New words."]
    assert [d["sequence_number"] for d in datas(out)] == list(range(len(out)))

    body = response_body("Old.", "More.")
    rewritten = RESPONSES.with_answers(body, ["New."])
    assert [p["text"] for p in rewritten["output"][0]["content"]] == ["New.", ""]


def test_responses_request_forms() -> None:
    """A string input and a list of items are both screened and rewritten in place."""
    assert RESPONSES.user_texts({"input": "hello"}) == [(0, "hello")]
    assert RESPONSES.with_user_texts({"input": "hello"}, {0: "hi"})["input"] == "hi"
    items = [{"role": "user", "content": [{"type": "input_text", "text": "a"}]},
             {"type": "function_call_output", "call_id": "c", "output": "x"}]
    assert RESPONSES.user_texts({"input": items}) == [(0, "a")]
    rewritten = RESPONSES.with_user_texts({"input": items}, {0: "b"})["input"]
    assert rewritten[0]["content"] == [{"type": "input_text", "text": "b"}]
    assert rewritten[1] is items[1]


def test_synthesised_replies_are_valid_sdk_shapes() -> None:
    """Replies for withheld prompts parse into the SDK's types for every format."""
    from anthropic.types import Message
    from openai.types.chat import ChatCompletion
    from openai.types.responses import Response

    assert ChatCompletion.model_validate(CHAT.reply("m", "no")).choices[0].message.content \
        == "no"
    # the SDK types content blocks as a union; these replies hold one text block
    assert Message.model_validate(MESSAGES.reply("m", "no")).content[0].text == "no"  # type: ignore[union-attr]
    assert Response.model_validate(RESPONSES.reply("m", "no")).output_text == "no"
    for fmt in (CHAT, MESSAGES, RESPONSES):
        assert fmt.stream_answers(fmt.reply_events("m", "no")) == ["no"]
