"""The Anthropic Messages wire format (`POST /v1/messages`), as Anthropic documents it.

A response is a `message` whose `text` content blocks, read in order, are the answer
(tool use, thinking and other blocks are not text for a person and pass untouched); a
stream is the named events `message_start`, `content_block_start`,
`content_block_delta` (`text_delta`, `citations_delta`, ...), `content_block_stop`,
`message_delta`, `message_stop`, or an in-band `error`. A revised answer goes in the
first text block; the other text blocks are dropped (an empty text block is refused if
the conversation is sent back) and later blocks renumbered; citations go with the old
text, since they quote it.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from typing import Any

from supervisor.decision import Usage
from supervisor.wire.conversation import user_texts_in, with_user_texts_in
from supervisor.wire.streams import Event, pieces


class MessagesFormat:
    """Messages requests, messages and event streams."""

    def user_texts(self, request: Mapping[str, Any]) -> list[tuple[int, str]]:
        """User turns with text, oldest first."""
        return user_texts_in(request.get("messages"))

    def with_user_texts(self, request: Mapping[str, Any],
                        texts: Mapping[int, str]) -> dict[str, Any]:
        """The request with those user turns rewritten."""
        return {**request, "messages": with_user_texts_in(request.get("messages"), texts)}

    def answers(self, body: Mapping[str, Any]) -> list[str]:
        """The text blocks joined: one answer."""
        return ["".join(b.get("text") or "" for b in body.get("content") or ()
                        if b.get("type") == "text")]

    def with_answers(self, body: Mapping[str, Any], texts: Sequence[str]) -> dict[str, Any]:
        """The released text in the first text block; other text blocks dropped."""
        (text,) = texts
        content: list[Any] = []
        placed = False
        for block in body.get("content") or ():
            if block.get("type") != "text":
                content.append(block)
            elif not placed:
                content.append(_plain({**block, "text": text}))
                placed = True
        if not placed:
            content.insert(0, {"type": "text", "text": text})
        return {**body, "content": content}

    def stream_answers(self, events: Sequence[Event]) -> list[str]:
        """The text deltas of every text block joined, in stream order."""
        texts = _text_blocks(events)
        parts: list[str] = []
        for event in events:
            data = event.json()
            if not isinstance(data, dict) or data.get("index") not in texts:
                continue
            if data.get("type") == "content_block_start":
                parts.append((data.get("content_block") or {}).get("text") or "")
            elif data.get("type") == "content_block_delta":
                delta = data.get("delta") or {}
                if delta.get("type") == "text_delta":
                    parts.append(delta.get("text") or "")
        return ["".join(parts)]

    def with_stream_answers(self, events: Sequence[Event],
                            texts: Sequence[str]) -> list[Event]:
        """The released text re-cut over the first text block's deltas; see the docstring."""
        (text,) = texts
        blocks = _text_blocks(events)
        if not blocks:
            return list(events)
        first, dropped = blocks[0], set(blocks[1:])
        slots = sum(1 for e in events if _is_text_delta(e.json(), first))
        cut = iter(pieces(text, slots))
        out: list[Event] = []
        for event in events:
            data = event.json()
            index = data.get("index") if isinstance(data, dict) else None
            if not isinstance(data, dict) or index is None:
                out.append(event)
                continue
            if index in dropped:
                continue
            if index == first:
                kind = data.get("type")
                if kind == "content_block_start":
                    block = data.get("content_block") or {}
                    data = {**data, "content_block": _plain(
                        {**block, "text": "" if slots else text})}
                elif kind == "content_block_delta":
                    if not _is_text_delta(data, first):
                        continue  # citations quote the old text
                    data = {**data, "delta": {**data["delta"], "text": next(cut)}}
            shift = sum(1 for d in dropped if d < index)
            out.append(Event.of({**data, "index": index - shift}, event.name)
                       if shift or index == first else event)
        return out

    def failed(self, events: Sequence[Event]) -> bool:
        """An in-band `error` event."""
        return any(e.name == "error" or _type(e) == "error" for e in events)

    def reply(self, model: str, text: str, *, stop: str = "end_turn",
              usage: Usage | None = None) -> dict[str, Any]:
        """A `message` carrying `text` (`stop`: `refusal` when withheld)."""
        given = usage or Usage()
        return {"id": _new_id(), "type": "message", "role": "assistant", "model": model,
                "content": [{"type": "text", "text": text}], "stop_reason": stop,
                "stop_sequence": None, "usage": {"input_tokens": given.input_tokens,
                                                 "output_tokens": given.output_tokens}}

    def reply_events(self, model: str, text: str, *, deltas: Sequence[str] = (),
                     usage: Usage | None = None) -> list[Event]:
        """The same as a Messages event stream: one `text_delta` per delta (the whole text
        when none are given); input tokens on `message_start`, output on `message_delta`."""
        given = usage or Usage()
        start = {**self.reply(model, "", usage=Usage(input_tokens=given.input_tokens)),
                 "content": [], "stop_reason": None}
        payloads: list[dict[str, Any]] = [
            {"type": "message_start", "message": start},
            {"type": "content_block_start", "index": 0,
             "content_block": {"type": "text", "text": ""}},
            *({"type": "content_block_delta", "index": 0,
               "delta": {"type": "text_delta", "text": d}} for d in (deltas or (text,))),
            {"type": "content_block_stop", "index": 0},
            {"type": "message_delta", "delta": {"stop_reason": "end_turn",
                                                "stop_sequence": None},
             "usage": {"output_tokens": given.output_tokens}},
            {"type": "message_stop"},
        ]
        return [Event.of(p, p["type"]) for p in payloads]


def _text_blocks(events: Sequence[Event]) -> list[int]:
    """Indices of the text blocks, in the order they start."""
    found: list[int] = []
    for event in events:
        data = event.json()
        if (isinstance(data, dict) and data.get("type") == "content_block_start"
                and (data.get("content_block") or {}).get("type") == "text"):
            found.append(int(data.get("index", 0)))
    return found


def _is_text_delta(data: Any, index: int) -> bool:
    return (isinstance(data, dict) and data.get("type") == "content_block_delta"
            and data.get("index") == index
            and (data.get("delta") or {}).get("type") == "text_delta")


def _plain(block: dict[str, Any]) -> dict[str, Any]:
    """A text block without citations (they quote text that is no longer there)."""
    return {k: v for k, v in block.items() if k != "citations"}


def _type(event: Event) -> Any:
    data = event.json()
    return data.get("type") if isinstance(data, dict) else None


def _new_id() -> str:
    return f"msg_supervisor_{uuid.uuid4().hex[:24]}"


MESSAGES = MessagesFormat()
