"""Conversations shaped as a list of `{role, content}` messages (Chat Completions, Messages)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from supervisor.wire.streams import field as get
from supervisor.wire.streams import text_of, with_text


def user_texts_in(messages: Any) -> list[tuple[int, str]]:
    """(index, text) of each user message with text in a `messages` list."""
    found: list[tuple[int, str]] = []
    for index, message in enumerate(messages or ()):
        if get(message, "role") == "user":
            text = text_of(get(message, "content"))
            if text.strip():
                found.append((index, text))
    return found


def with_user_texts_in(messages: Any, texts: Mapping[int, str]) -> list[Any]:
    """A copy of `messages` with the user messages at `texts`' indices rewritten."""
    out = list(messages or ())
    for index, text in texts.items():
        message = out[index]
        content = with_text(get(message, "content"), text)
        out[index] = ({**message, "content": content} if isinstance(message, Mapping)
                      else {"role": "user", "content": content})
    return out
