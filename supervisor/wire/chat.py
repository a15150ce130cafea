"""The Chat Completions wire format (`POST /v1/chat/completions`), as OpenAI documents it.

A response is a `chat.completion` with one `message.content` per choice; a stream is
unnamed `data:` frames of `chat.completion.chunk` objects whose `choices[].delta.content`
spell each choice's answer, ending with `data: [DONE]`. A revised answer also drops
the choice's `logprobs`: they spell out the original tokens.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Mapping, Sequence
from typing import Any

from supervisor.decision import Usage
from supervisor.wire.conversation import user_texts_in, with_user_texts_in
from supervisor.wire.streams import Event, pieces


class ChatFormat:
    """Chat Completions requests, completions and chunk streams."""

    def user_texts(self, request: Mapping[str, Any]) -> list[tuple[int, str]]:
        """User messages with text, oldest first."""
        return user_texts_in(request.get("messages"))

    def with_user_texts(self, request: Mapping[str, Any],
                        texts: Mapping[int, str]) -> dict[str, Any]:
        """The request with those user messages rewritten."""
        return {**request, "messages": with_user_texts_in(request.get("messages"), texts)}

    def answers(self, body: Mapping[str, Any]) -> list[str]:
        """Each choice's message content."""
        return [str((c.get("message") or {}).get("content") or "")
                for c in body.get("choices") or ()]

    def with_answers(self, body: Mapping[str, Any], texts: Sequence[str]) -> dict[str, Any]:
        """Each choice carrying its released text."""
        choices = []
        for choice, text in zip(body.get("choices") or (), texts, strict=True):
            message = choice.get("message") or {}
            if (message.get("content") or "") == text:
                choices.append(choice)
            else:
                choices.append({**choice, "message": {**message, "content": text},
                                "logprobs": None})
        return {**body, "choices": choices}

    def stream_answers(self, events: Sequence[Event]) -> list[str]:
        """Each choice's content deltas joined, in choice-index order."""
        texts: dict[int, list[str]] = {}
        for _, index, delta in _deltas(events):
            texts.setdefault(index, [])
            if delta:
                texts[index].append(delta)
        return ["".join(texts[i]) for i in sorted(texts)]

    def with_stream_answers(self, events: Sequence[Event],
                            texts: Sequence[str]) -> list[Event]:
        """The chunks with each changed choice's deltas re-cut from its released text."""
        found = _deltas(events)
        indexes = sorted({index for _, index, _ in found})
        wanted = dict(zip(indexes, texts, strict=True))
        old = dict(zip(indexes, self.stream_answers(events), strict=True))
        changed = {i for i in indexes if wanted[i] != old[i]}
        slots = {i: [pos for pos, index, delta in found if index == i and delta]
                 for i in changed}
        cut = {i: iter(pieces(wanted[i], len(slots[i]))) for i in changed}
        out: list[Event] = []
        for pos, event in enumerate(events):
            data = event.json()
            if not isinstance(data, dict) or not any(
                    c.get("index", 0) in changed for c in data.get("choices") or ()):
                out.append(event)
                continue
            choices = []
            for original in data["choices"]:
                index = original.get("index", 0)
                choice = dict(original)
                if index in changed:
                    choice["logprobs"] = None
                    if pos in slots[index]:
                        delta = choice.get("delta") or {}
                        choice["delta"] = {**delta, "content": next(cut[index])}
                choices.append(choice)
            out.append(Event.of({**data, "choices": choices}, event.name))
        return out

    def failed(self, events: Sequence[Event]) -> bool:
        """An in-band `{"error": ...}` frame."""
        return any(isinstance(d, dict) and d.get("error") for d in (e.json() for e in events))

    def reply(self, model: str, text: str, *, finish: str = "stop",
              usage: Usage | None = None) -> dict[str, Any]:
        """A `chat.completion` carrying `text` (`finish`: `content_filter` when withheld)."""
        return {"id": _new_id(), "object": "chat.completion", "created": int(time.time()),
                "model": model,
                "choices": [{"index": 0, "finish_reason": finish, "logprobs": None,
                             "message": {"role": "assistant", "content": text,
                                         "refusal": None}}],
                "usage": _usage(usage)}

    def reply_events(self, model: str, text: str, *, deltas: Sequence[str] = (),
                     usage: Usage | None = None) -> list[Event]:
        """The same as `chat.completion.chunk` frames and `[DONE]`: one content frame per
        delta (the whole text when none are given), then OpenAI's usage frame when
        `usage` is given (what `stream_options.include_usage` asks for)."""
        base = {"id": _new_id(), "object": "chat.completion.chunk",
                "created": int(time.time()), "model": model}

        def chunk(delta: dict[str, Any], finish: str | None = None) -> Event:
            return Event.of({**base, "choices": [{"index": 0, "delta": delta,
                                                  "logprobs": None, "finish_reason": finish}]})

        events = [chunk({"role": "assistant", "content": ""}),
                  *(chunk({"content": d}) for d in (deltas or (text,))), chunk({}, "stop")]
        if usage is not None:
            events.append(Event.of({**base, "choices": [], "usage": _usage(usage)}))
        return [*events, Event("[DONE]")]


def _deltas(events: Sequence[Event]) -> list[tuple[int, int, str]]:
    """(event position, choice index, content delta) for every choice of every chunk."""
    found: list[tuple[int, int, str]] = []
    for pos, event in enumerate(events):
        data = event.json()
        if isinstance(data, dict):
            for choice in data.get("choices") or ():
                delta = choice.get("delta") or {}
                found.append((pos, choice.get("index", 0), delta.get("content") or ""))
    return found


def _usage(usage: Usage | None) -> dict[str, int]:
    given = usage or Usage()
    return {"prompt_tokens": given.input_tokens, "completion_tokens": given.output_tokens,
            "total_tokens": given.input_tokens + given.output_tokens}


def _new_id() -> str:
    return f"chatcmpl-supervisor-{uuid.uuid4().hex[:24]}"


CHAT = ChatFormat()
