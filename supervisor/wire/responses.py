"""The OpenAI Responses wire format (`POST /v1/responses`), as OpenAI documents it.

The request's `input` is a string or a list of items (a user item's `content` is a
string or `input_text` parts). The answer is every `output_text` part of the `message`
output items, joined (what the SDK's `Response.output_text` shows). A stream is named
events, each with a `sequence_number`: `response.created`, `response.output_item.added`,
`response.content_part.added`, `response.output_text.delta`, `response.output_text.done`,
`response.content_part.done`, `response.output_item.done`, `response.completed` (or
`response.failed` / `error`). A revised answer goes in the first text part, the other
text parts are emptied, and annotations and logprobs go with the old text.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Mapping, Sequence
from typing import Any

from supervisor.wire.streams import Event, pieces, text_of, with_text
from supervisor.wire.streams import field as get

Key = tuple[int, int]  # (output_index, content_index) of one output_text part
TEXT_EVENTS = ("response.output_text.delta", "response.output_text.done",
               "response.output_text.annotation.added")


class ResponsesFormat:
    """Responses requests, response objects and event streams."""

    def user_texts(self, request: Mapping[str, Any]) -> list[tuple[int, str]]:
        """User items with text (a string `input` is one user item at position 0)."""
        items = request.get("input")
        if isinstance(items, str):
            return [(0, items)] if items.strip() else []
        found = []
        for index, item in enumerate(items or ()):
            if get(item, "role") == "user" and get(item, "type") in (None, "message"):
                text = text_of(get(item, "content"))
                if text.strip():
                    found.append((index, text))
        return found

    def with_user_texts(self, request: Mapping[str, Any],
                        texts: Mapping[int, str]) -> dict[str, Any]:
        """The request with those user items rewritten."""
        items = request.get("input")
        if isinstance(items, str):
            return {**request, "input": texts.get(0, items)}
        out = list(items or ())
        for index, text in texts.items():
            item = out[index]
            content = with_text(get(item, "content"), text)
            out[index] = ({**item, "content": content} if isinstance(item, Mapping)
                          else {"role": "user", "content": content})
        return {**request, "input": out}

    def answers(self, body: Mapping[str, Any]) -> list[str]:
        """All output_text parts joined: one answer."""
        return ["".join(part.get("text") or "" for _, part in _parts(body.get("output")))]

    def with_answers(self, body: Mapping[str, Any], texts: Sequence[str]) -> dict[str, Any]:
        """The released text in the first text part; the others emptied."""
        (text,) = texts
        keys = [key for key, _ in _parts(body.get("output"))]
        return {**body, "output": _rewrite_output(body.get("output"),
                                                  keys[0] if keys else None, text)}

    def stream_answers(self, events: Sequence[Event]) -> list[str]:
        """The output_text deltas joined, in stream order."""
        return ["".join(d.get("delta") or "" for d in _datas(events)
                        if d.get("type") == "response.output_text.delta")]

    def with_stream_answers(self, events: Sequence[Event],
                            texts: Sequence[str]) -> list[Event]:
        """The released text re-cut over the first part's deltas; sequence renumbered."""
        (text,) = texts
        deltas = [d for d in _datas(events) if d.get("type") == "response.output_text.delta"]
        if not deltas:
            return list(events)
        first = _key(deltas[0])
        cut = iter(pieces(text, sum(1 for d in deltas if _key(d) == first)))
        out: list[Event] = []
        for event in events:
            data = event.json()
            if not isinstance(data, dict):
                out.append(event)
                continue
            kind, mine = data.get("type"), _key(data) == first
            if kind in TEXT_EVENTS and (not mine or kind.endswith("annotation.added")):
                if kind == "response.output_text.done":
                    out.append(Event.of(_clean({**data, "text": ""}), event.name))
                continue
            if kind == "response.output_text.delta":
                data = _clean({**data, "delta": next(cut)})
            elif kind == "response.output_text.done":
                data = _clean({**data, "text": text})
            elif kind in ("response.content_part.added", "response.content_part.done"):
                part = data.get("part") or {}
                if part.get("type") == "output_text":
                    filled = text if mine and kind.endswith("done") else ""
                    data = {**data, "part": _clean({**part, "text": filled})}
            elif kind == "response.output_item.done":
                index = data.get("output_index", 0)
                output = [None] * index + [data.get("item")]
                data = {**data, "item": _rewrite_output(output, first, text)[index]}
            elif isinstance(data.get("response"), dict):
                response = data["response"]
                data = {**data, "response": {**response, "output": _rewrite_output(
                    response.get("output"), first, text)}}
            out.append(Event.of(data, event.name))
        return _renumber(out)

    def failed(self, events: Sequence[Event]) -> bool:
        """An `error` or `response.failed` event."""
        return any(d.get("type") in ("error", "response.failed") for d in _datas(events))

    def reply(self, model: str, text: str) -> dict[str, Any]:
        """A completed `response` carrying `text`."""
        return {"id": f"resp_supervisor_{uuid.uuid4().hex[:24]}", "object": "response",
                "created_at": int(time.time()), "status": "completed", "model": model,
                "output": [_message(text)], "parallel_tool_calls": False,
                "tool_choice": "auto", "tools": [], "error": None,
                "incomplete_details": None,
                "usage": {"input_tokens": 0, "output_tokens": 0, "total_tokens": 0,
                          "input_tokens_details": {"cached_tokens": 0, "cache_write_tokens": 0},
                          "output_tokens_details": {"reasoning_tokens": 0}}}

    def reply_events(self, model: str, text: str) -> list[Event]:
        """The same as a Responses event stream."""
        done = self.reply(model, text)
        item = done["output"][0]
        where = {"item_id": item["id"], "output_index": 0, "content_index": 0}
        payloads: list[dict[str, Any]] = [
            {"type": "response.created",
             "response": {**done, "status": "in_progress", "output": []}},
            {"type": "response.output_item.added", "output_index": 0,
             "item": {**item, "status": "in_progress", "content": []}},
            {"type": "response.content_part.added", **where,
             "part": {"type": "output_text", "text": "", "annotations": []}},
            {"type": "response.output_text.delta", **where, "delta": text, "logprobs": []},
            {"type": "response.output_text.done", **where, "text": text, "logprobs": []},
            {"type": "response.content_part.done", **where, "part": item["content"][0]},
            {"type": "response.output_item.done", "output_index": 0, "item": item},
            {"type": "response.completed", "response": done},
        ]
        return _renumber([Event.of(p, p["type"]) for p in payloads])


def _message(text: str) -> dict[str, Any]:
    return {"type": "message", "id": f"msg_supervisor_{uuid.uuid4().hex[:24]}",
            "status": "completed", "role": "assistant",
            "content": [{"type": "output_text", "text": text, "annotations": []}]}


def _parts(output: Any) -> list[tuple[Key, dict[str, Any]]]:
    """Every output_text part of the message items, keyed by (output, content) index."""
    found = []
    for oi, item in enumerate(output or ()):
        if isinstance(item, dict) and item.get("type") == "message":
            for ci, part in enumerate(item.get("content") or ()):
                if part.get("type") == "output_text":
                    found.append(((oi, ci), part))
    return found


def _rewrite_output(output: Any, first: Key | None, text: str) -> list[Any]:
    """The output items with `text` in part `first` and the other text parts emptied."""
    items = list(output or ())
    for (oi, ci), part in _parts(items):
        content = list(items[oi]["content"])
        content[ci] = _clean({**part, "text": text if (oi, ci) == first else ""})
        items[oi] = {**items[oi], "content": content}
    return items


def _clean(part: dict[str, Any]) -> dict[str, Any]:
    """Annotations and logprobs describe the old text: empty them where present."""
    if "annotations" in part:
        part["annotations"] = []
    if "logprobs" in part:
        part["logprobs"] = []
    return part


def _key(data: Mapping[str, Any]) -> Key:
    return (data.get("output_index", 0), data.get("content_index", 0))


def _datas(events: Sequence[Event]) -> list[dict[str, Any]]:
    return [d for d in (e.json() for e in events) if isinstance(d, dict)]


def _renumber(events: list[Event]) -> list[Event]:
    """Consecutive `sequence_number`s after events were dropped (or for a new stream)."""
    out = []
    for seq, event in enumerate(events):
        data = event.json()
        out.append(Event.of({**data, "sequence_number": seq}, event.name)
                   if isinstance(data, dict) else event)
    return out


RESPONSES = ResponsesFormat()
