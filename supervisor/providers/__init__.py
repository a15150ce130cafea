"""Chat models behind one seam: a Provider has one async method, `complete`.

The judge, the reviser and the primary-model call all speak to models only through this
Protocol, so a vendor SDK, a local GGUF model or the scripted fake are interchangeable.
Structured output is asked for with `ChatRequest.schema` (a JSON schema); each adapter
uses its vendor's strongest mechanism (a forced tool call, a strict JSON schema, a
grammar) and puts the parsed object in `ChatResponse.data`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, runtime_checkable

Role = Literal["system", "user", "assistant"]


@dataclass(frozen=True, slots=True)
class Message:
    """One turn of a conversation."""

    role: Role
    content: str


@dataclass(frozen=True, slots=True)
class ChatRequest:
    """What to ask a model. `schema` asks for a JSON object of that shape instead of text."""

    messages: tuple[Message, ...]
    system: str = ""
    max_tokens: int = 1024
    temperature: float = 0.0
    schema: Mapping[str, Any] | None = None
    schema_name: str = "verdict"
    timeout: float | None = None


@dataclass(frozen=True, slots=True)
class ChatResponse:
    """A model's answer: text, the structured object when one was asked for, and usage."""

    text: str
    model: str
    provider: str
    data: Mapping[str, Any] | None = None
    input_tokens: int = 0
    output_tokens: int = 0
    stop_reason: str = ""
    raw: Mapping[str, Any] = field(default_factory=dict)


@runtime_checkable
class Provider(Protocol):
    """An adapter to a chat model. `name` is the reference it was built from (`openai:gpt-4o`)."""

    name: str

    async def complete(self, request: ChatRequest) -> ChatResponse:
        """Ask the model once. Raises ProviderUnavailable or ProviderRejected on failure."""
        ...


__all__ = ["ChatRequest", "ChatResponse", "Message", "Provider", "Role"]
