"""`POST /v1/messages`: the Anthropic-compatible supervising proxy.

Point `anthropic.Anthropic(base_url="http://HOST:PORT", api_key=APP_KEY)` here and keep
the app's code. The answer comes back as a `message` (or the named event stream
`message_start` ... `message_stop` when `stream` is set) carrying the released text. A
blocked or escalated answer is the constitution's message with `stop_reason: refusal`;
in a stream it is an `error` event, which the SDK raises. A failed supervision is an
Anthropic error body (502 upstream, 503 supervisor) with the record id.
"""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, StreamingResponse

from api.access import AppCaller, ServiceDep
from api.errors import ApiError
from api.routes.proxy import Exchange, Outcome, plain_text, run, sse
from api.schemas import MessagesRequest
from supervisor.middleware.streams import Event, pieces
from supervisor.providers import Message

router = APIRouter(tags=["proxy"])
PIECE = 24  # characters per streamed delta


@router.post("/v1/messages", response_model=None)
async def messages(body: MessagesRequest, request: Request, service: ServiceDep,
                   caller: AppCaller) -> JSONResponse | StreamingResponse:
    """Generate with the primary model named in `model`, supervise, answer as Anthropic does."""
    if body.tools:
        raise ApiError(400, "tools are not supported by the supervising proxy: a tool call "
                       "cannot be checked as an answer", param="tools")
    turns = [Message("system", plain_text(body.system, "system"))] if body.system else []
    for index, message in enumerate(body.messages):
        turns.append(Message(message.role, plain_text(message.content, f"messages[{index}]")))
    user = (body.metadata or {}).get("user_id")
    exchange = Exchange(model=body.model, messages=tuple(turns), max_tokens=body.max_tokens,
                        temperature=body.temperature,
                        user=str(user) if user is not None else None,
                        stream=bool(body.stream))
    outcome = await run(service, request, caller, exchange, "anthropic")
    if outcome.failed:
        raise ApiError(outcome.status, outcome.message(), kind="supervisor_error",
                       headers={**outcome.headers(), "x-should-retry": "false"})
    if exchange.stream:
        return sse(_events(body.model, outcome), outcome)
    return JSONResponse(_message(body.model, outcome), headers=outcome.headers())


def _message(model: str, outcome: Outcome, *, started: bool = False) -> dict[str, Any]:
    """The whole `message`, or (`started`) the empty one a stream's `message_start` carries."""
    usage = outcome.decision.usage
    return {"id": f"msg_sup_{uuid.uuid4().hex[:24]}", "type": "message", "role": "assistant",
            "model": model,
            "content": [] if started else [{"type": "text", "text": outcome.decision.output}],
            "stop_reason": None if started else "refusal" if outcome.withheld else "end_turn",
            "stop_sequence": None,
            "usage": {"input_tokens": usage.input_tokens,
                      "output_tokens": 0 if started else usage.output_tokens}}


def _events(model: str, outcome: Outcome) -> list[Event]:
    if outcome.withheld:
        return [Event.of({"type": "error", "error": {"type": "api_error",
                                                     "message": outcome.message()}}, "error")]
    text = outcome.decision.output
    payloads: list[dict[str, Any]] = [
        {"type": "message_start", "message": _message(model, outcome, started=True)},
        {"type": "content_block_start", "index": 0,
         "content_block": {"type": "text", "text": ""}},
        *({"type": "content_block_delta", "index": 0,
           "delta": {"type": "text_delta", "text": piece}}
          for piece in pieces(text, max(1, -(-len(text) // PIECE)))),
        {"type": "content_block_stop", "index": 0},
        {"type": "message_delta", "delta": {"stop_reason": "end_turn", "stop_sequence": None},
         "usage": {"output_tokens": outcome.decision.usage.output_tokens}},
        {"type": "message_stop"},
    ]
    return [Event.of(p, p["type"]) for p in payloads]
