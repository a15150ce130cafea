"""The vendor wire formats: where the user's words and the answer's text live in each API's JSON.

Shared by the SDK middleware (supervisor.middleware), which reads and rewrites what a
vendor client sends and receives, and by the HTTP service (api.routes), which speaks
the same formats to its callers. `chat` is OpenAI's Chat Completions, `responses`
OpenAI's Responses, `messages` Anthropic's Messages; `streams` holds their server-sent
events whole; `conversation` reads the `{role, content}` message lists two of them share.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from supervisor.wire.streams import Event


class WireFormat(Protocol):
    """One vendor API's JSON: where the user's words and the answer's text live."""

    def user_texts(self, request: Mapping[str, Any]) -> list[tuple[int, str]]:
        """(position, text) of each user message that has text, oldest first."""
        ...

    def with_user_texts(self, request: Mapping[str, Any],
                        texts: Mapping[int, str]) -> dict[str, Any]:
        """A copy of `request` with the user messages at these positions replaced."""
        ...

    def answers(self, body: Mapping[str, Any]) -> list[str]:
        """The answer texts of a complete response (one per choice)."""
        ...

    def with_answers(self, body: Mapping[str, Any], texts: Sequence[str]) -> dict[str, Any]:
        """A copy of `body` carrying `texts` instead (and nothing derived from the old text)."""
        ...

    def stream_answers(self, events: Sequence[Event]) -> list[str]:
        """The answer texts a whole stream spells out (one per choice)."""
        ...

    def with_stream_answers(self, events: Sequence[Event],
                            texts: Sequence[str]) -> list[Event]:
        """The stream re-emitted with `texts` in as many deltas as the vendor sent."""
        ...

    def failed(self, events: Sequence[Event]) -> bool:
        """Whether the stream carries an in-band error (the SDK will raise it)."""
        ...

    def reply(self, model: str, text: str) -> dict[str, Any]:
        """A complete response carrying `text`, for a request never sent to the vendor."""
        ...

    def reply_events(self, model: str, text: str) -> list[Event]:
        """The same as a stream."""
        ...


__all__ = ["Event", "WireFormat"]
