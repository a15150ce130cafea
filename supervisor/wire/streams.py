"""Server-sent events as the vendors stream them, held whole so nothing is shown unverified.

A supervised stream is read to its end before the caller sees any of it: the text is
checked as one answer, then the events are replayed (unchanged text: the vendor's own
bytes) or re-emitted carrying the released text in as many deltas as the vendor sent.
The SDK then parses these bytes with its own stream class, so callers get the SDK's own
chunk and event types.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class Event:
    """One SSE event: its `event:` name (Anthropic and Responses name them) and its data."""

    data: str
    name: str | None = None

    @classmethod
    def of(cls, payload: Mapping[str, Any], name: str | None = None) -> Event:
        """An event whose data is `payload` as compact JSON."""
        return cls(json.dumps(payload, separators=(",", ":"), ensure_ascii=False), name)

    def json(self) -> Any:
        """The data as JSON; None for a non-JSON payload such as OpenAI's `[DONE]`."""
        try:
            return json.loads(self.data)
        except ValueError:
            return None


def parse_sse(raw: bytes) -> list[Event]:
    """Split an SSE body into events (WHATWG rules: `data:` lines joined, comments dropped)."""
    events: list[Event] = []
    name: str | None = None
    data: list[str] = []
    text = raw.decode("utf-8").replace("\r\n", "\n").replace("\r", "\n")
    for line in [*text.split("\n"), ""]:
        if not line:
            if data:
                events.append(Event("\n".join(data), name))
            name, data = None, []
            continue
        if line.startswith(":"):
            continue
        field, _, value = line.partition(":")
        value = value.removeprefix(" ")
        if field == "event":
            name = value
        elif field == "data":
            data.append(value)
    return events


def to_sse(events: Iterable[Event]) -> bytes:
    """Serialise events back to the wire (`event:` when named, one `data:` line per line)."""
    out: list[str] = []
    for event in events:
        if event.name is not None:
            out.append(f"event: {event.name}\n")
        out.extend(f"data: {line}\n" for line in event.data.split("\n"))
        out.append("\n")
    return "".join(out).encode("utf-8")


def pieces(text: str, count: int) -> list[str]:
    """`text` cut into exactly `count` consecutive pieces of near-equal length."""
    if count <= 0:
        return []
    bounds = [round(i * len(text) / count) for i in range(count + 1)]
    return [text[bounds[i]:bounds[i + 1]] for i in range(count)]


def field(item: Any, key: str) -> Any:
    """`item[key]` for a mapping, `item.key` for an SDK object, else None."""
    if isinstance(item, Mapping):
        return item.get(key)
    return getattr(item, key, None)


def text_of(content: Any) -> str:
    """The text of a message's content: a string, or the joined text parts of a list."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(str(field(part, "text") or "") for part in content
                         if field(part, "type") in ("text", "input_text"))
    return ""


def with_text(content: Any, text: str) -> Any:
    """`content` carrying `text`: a string stays a string; in a list of parts the first
    text part takes the whole text and the other text parts go (images, files, tool
    results are kept in place)."""
    if not isinstance(content, list):
        return text
    out: list[Any] = []
    placed = False
    for part in content:
        kind = field(part, "type")
        if kind in ("text", "input_text"):
            if not placed:
                out.append({**part, "text": text} if isinstance(part, Mapping)
                           else {"type": kind, "text": text})
                placed = True
            continue
        out.append(part)
    return out
