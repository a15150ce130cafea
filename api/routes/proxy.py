"""What both vendor fronts share: one exchange through the Supervisor, and its outcome.

A front (`chat` for OpenAI's Chat Completions, `messages` for Anthropic's Messages)
turns its request into a `ProxyRequest`, runs it here, and renders the result (`Proxied`)
in its own wire format. `model` names the primary model: `vendor:model` as in the CLI
(`local:smollm2`, `anthropic:claude-haiku-4-5`, `openai:gpt-4o-mini`), a bare name means
the front's own vendor (`gpt-4o-mini` on the OpenAI front), and `default` the service's
SUPERVISOR_PRIMARY_MODEL. So an OpenAI-format app can move to an Anthropic model, or to
the embedded one, by changing only its `model` string.

The answer is always held until it is verified: the primary model is asked for the whole
answer, the supervisor decides, the record is made durable, and only then does the front
answer (streaming the released text, or the vendor's error event).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Literal

from fastapi import Request
from fastapi.responses import Response
from pydantic import BaseModel

from api.access import bound, recorded_app
from api.errors import ApiError, error_body
from api.keys import Caller
from api.refusals import refuse_invalid_text, supervised
from api.service import DEFAULT_MODEL, Service
from supervisor.decision import Action, Decision
from supervisor.errors import ConfigError
from supervisor.providers import Message
from supervisor.wire.streams import Event, pieces, to_sse

Front = Literal["openai", "anthropic"]
CONSTITUTION_HEADER = "x-supervisor-constitution"
APP_HEADER = "x-supervisor-app"
PIECE = 24  # characters per streamed delta


@dataclass(frozen=True, slots=True)
class ProxyRequest:
    """A front's request, vendor-neutral."""

    model: str
    messages: tuple[Message, ...]
    max_tokens: int | None
    temperature: float | None
    user: str | None


@dataclass(frozen=True, slots=True)
class Proxied:
    """The decision, and how a front should answer it."""

    decision: Decision

    @property
    def failed(self) -> bool:
        """An error decision that withheld the answer: the front answers with an error."""
        return self.decision.action is Action.ERROR and not self.decision.released

    @property
    def withheld(self) -> bool:
        """Blocked or escalated: the front answers with the constitution's message."""
        return not self.decision.released and not self.failed

    @property
    def status(self) -> int:
        """For a failure: 502 when the primary model failed, 503 when supervision did."""
        return 502 if self.decision.failure == "primary" else 503

    def headers(self) -> dict[str, str]:
        return {"x-supervisor-record-id": self.decision.record_id or "",
                "x-supervisor-action": str(self.decision.action)}

    def message(self) -> str:
        """The error text a front sends for a failure or a withheld streamed answer."""
        d = self.decision
        what = {"block": "blocked", "escalate": "held for human review"}.get(
            str(d.action), "not released: supervision failed")
        return (f"the answer was {what} by the supervisor ({d.reason or d.action}); "
                f"{d.output} [record {d.record_id}]")


def plain_text(content: str | list[dict[str, Any]] | None, where: str) -> str:
    """A message's text: a string, or its text parts joined; any other part is refused."""
    if content is None or isinstance(content, str):
        return content or ""
    texts = []
    for index, part in enumerate(content):
        if part.get("type") != "text" or not isinstance(part.get("text"), str):
            raise ApiError(400, f"{where}.content[{index}] is a {part.get('type')!r} part; "
                           "only text is supervised", param=f"{where}.content[{index}]")
        texts.append(part["text"])
    return "\n".join(texts)


def refuse_tools(tools: object) -> None:
    """Tool calls are not answers the supervisor can check; both fronts refuse them."""
    if tools:
        raise ApiError(400, "tools are not supported by the supervising proxy: a tool call "
                       "cannot be checked as an answer", param="tools")


def primary_ref(model: str, front: Front) -> str:
    """`vendor:model` as given; a bare name is the front's vendor; `default` the service's."""
    if model == DEFAULT_MODEL:
        return model
    return model if ":" in model else f"{front}:{model}"


def edge_context(request: Request, caller: Caller, front: Front) -> dict[str, str]:
    """What a front records of the caller: app, key and route, never the body's fields."""
    return {**recorded_app(request, caller, request.headers.get(APP_HEADER), param=APP_HEADER),
            "key": caller.name, "route": front}


def constitution_of(request: Request, caller: Caller) -> str | None:
    """The constitution header, if the key may use it (403 otherwise; see `access.bound`)."""
    return bound(caller, request.headers.get(CONSTITUTION_HEADER), param=CONSTITUTION_HEADER)


async def refuse_invalid(service: Service, request: Request, caller: Caller,
                         body: BaseModel, front: Front) -> None:
    """A request holding a text that is not Unicode: recorded, then a 400 naming the field."""
    await refuse_invalid_text(service, body, stage="input",
                              constitution=constitution_of(request, caller),
                              context=edge_context(request, caller, front))


async def run(service: Service, request: Request, caller: Caller, proxied: ProxyRequest,
              front: Front) -> Proxied:
    """Ask the primary model and supervise its answer; the record is durable on return.

    A supervision that crashes is recorded as an `error` decision and answered as a failed
    supervision (503), like a judge that timed out.
    """
    constitution = service.constitution(constitution_of(request, caller))
    try:
        primary = service.primary(primary_ref(proxied.model, front))
    except ConfigError as exc:
        raise ApiError(400, str(exc), param="model", code="model_not_found") from None
    prompt = next((m.content for m in reversed(proxied.messages) if m.role == "user"), "")
    if not prompt.strip():
        raise ApiError(400, "the conversation has no user message with text to answer",
                       param="messages")
    context = edge_context(request, caller, front)
    if proxied.user:
        context["user_ref"] = proxied.user
    decision = await supervised(
        service.supervisor(constitution, primary=primary).supervise(
            prompt=prompt, messages=proxied.messages, context=context,
            max_tokens=proxied.max_tokens, temperature=proxied.temperature),
        service, request, constitution, stage="output", context=context, prompt=prompt,
        primary=primary)
    service.metrics.observe(decision)
    outcome = Proxied(decision)
    if outcome.failed:
        raise ApiError(outcome.status, outcome.message(), kind="supervisor_error",
                       code="supervision_failed",
                       headers={**outcome.headers(), "x-should-retry": "false"})
    return outcome


def deltas(text: str) -> list[str]:
    """The released text in deltas of about PIECE characters, as a vendor streams it."""
    return pieces(text, max(1, -(-len(text) // PIECE)))


def withheld_event(request: Request, outcome: Proxied) -> Event:
    """The vendor's in-stream error event for a withheld answer (named `error` on the
    Anthropic front, a bare `{"error": ...}` frame on OpenAI's), with the request id."""
    request_id = getattr(request.state, "request_id", "")
    body = error_body(request.url.path, "supervisor_error",
                      f"{outcome.message()} (request id {request_id})",
                      code=str(outcome.decision.action))
    return Event.of(body, "error" if body.get("type") == "error" else None)


def sse(events: Iterable[Event], outcome: Proxied) -> Response:
    """A held, verified answer as an event stream (sent only after the record is durable)."""
    return Response(to_sse(events), media_type="text/event-stream",
                    headers={**outcome.headers(), "cache-control": "no-cache"})
