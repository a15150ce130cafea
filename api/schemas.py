"""Request bodies, validated at the edge (pydantic), as each front's SDK sends them.

The vendor fronts accept the fields their SDKs send and refuse, naming the field, what
a supervising proxy cannot honour (tool calls, images, several choices): silently
dropping them would hand the app an answer to a different question.

A text that is not Unicode (a lone surrogate) passes validation on the supervision
requests, so the route can record its refusal (`api.refusals`); a review refuses it here.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

Context = dict[str, str]


class _Open(BaseModel):
    """Vendor request: unknown fields allowed (SDKs send many), known ones validated."""

    model_config = ConfigDict(extra="allow")


class _Closed(BaseModel):
    model_config = ConfigDict(extra="forbid")


class TextPart(_Open):
    type: str = Field(description="`text` for moderation input")
    text: str | None = None


class ModerationRequest(_Closed):
    """OpenAI's moderation request. `model` picks the constitution (default: the service's)."""

    input: str | list[str] | list[TextPart] = Field(
        description="A text, a list of texts, or a list of {type: text, text} parts")
    model: str | None = Field(None, description="Constitution id, e.g. base, healthcare")
    stage: Literal["input", "output"] = Field(
        "output", description="Check against the constitution's output (default) or input "
                              "principles")


class SuperviseRequest(_Closed):
    """Supervise an answer you have, or generate one with the primary model and supervise it."""

    prompt: str = Field("", description="What the user asked")
    output: str | None = Field(None, description="The answer to check; omit to generate one")
    messages: list[ChatTurn] | None = Field(None, description="The conversation, instead of "
                                            "`prompt`; the last user turn is the prompt")
    constitution: str | None = Field(None, description="Constitution id; default: the "
                                                       "service's")
    primary: str | None = Field(None, description="Primary model reference when generating "
                                                   "(e.g. local:smollm2); default: the "
                                                   "service's")
    context: Context = Field(default_factory=dict,
                             description="Recorded with the decision: app_id, user_ref, ...")


class ChatTurn(_Closed):
    role: Literal["system", "user", "assistant"]
    content: str


class ChatMessage(_Open):
    role: Literal["system", "developer", "user", "assistant", "tool", "function"]
    content: str | list[dict[str, Any]] | None = None


class ChatCompletionRequest(_Open):
    """OpenAI Chat Completions; `model` names the primary model (see docs/http.md)."""

    model: str = Field(min_length=1)
    messages: list[ChatMessage] = Field(min_length=1)
    stream: bool | None = False
    max_tokens: int | None = Field(None, ge=1)
    max_completion_tokens: int | None = Field(None, ge=1)
    temperature: float | None = Field(None, ge=0, le=2)
    n: int | None = Field(None, ge=1)
    user: str | None = None
    stream_options: dict[str, Any] | None = None
    tools: list[Any] | None = None


class AnthropicMessage(_Open):
    role: Literal["user", "assistant"]
    content: str | list[dict[str, Any]]


class MessagesRequest(_Open):
    """Anthropic Messages; `model` names the primary model (see docs/http.md)."""

    model: str = Field(min_length=1)
    max_tokens: int = Field(ge=1)
    messages: list[AnthropicMessage] = Field(min_length=1)
    system: str | list[dict[str, Any]] | None = None
    stream: bool | None = False
    temperature: float | None = Field(None, ge=0, le=1)
    metadata: dict[str, Any] | None = None
    tools: list[Any] | None = None


class ReviewRequest(_Closed):
    """A reviewer's action on a decision: agree, override (with the text to release), note."""

    verdict: Literal["agree", "override", "note"]
    text: str | None = Field(None, description="The text to release (override only)")
    note: str = Field("", max_length=4000)

    @field_validator("text", "note")
    @classmethod
    def _unicode(cls, value: str | None) -> str | None:
        if value and any("\ud800" <= c <= "\udfff" for c in value):
            raise ValueError("holds a lone UTF-16 surrogate, which is not Unicode text; "
                             "send valid UTF-8")
        return value


SuperviseRequest.model_rebuild()
