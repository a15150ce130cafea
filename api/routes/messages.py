"""`POST /v1/messages`: the Anthropic-compatible supervising proxy.

Point `anthropic.Anthropic(base_url="http://HOST:PORT", api_key=APP_KEY)` here and keep
the app's code. The answer comes back as a `message` (or the named event stream
`message_start` ... `message_stop` when `stream` is set) carrying the released text. A
blocked or escalated answer is the constitution's message with `stop_reason: refusal`;
in a stream it is an `error` event, which the SDK raises. A failed supervision is an
Anthropic error body (502 upstream, 503 supervisor) with the record id.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from api.access import AppCaller, ServiceDep
from api.routes.proxy import (
    ProxyRequest,
    deltas,
    plain_text,
    refuse_invalid,
    refuse_tools,
    run,
    sse,
    withheld_event,
)
from api.schemas import MessagesRequest
from supervisor.providers import Message
from supervisor.wire.messages import MESSAGES

router = APIRouter(tags=["proxy"])


@router.post("/v1/messages", response_model=None)
async def messages(body: MessagesRequest, request: Request, service: ServiceDep,
                   caller: AppCaller) -> JSONResponse | Response:
    """Generate with the primary model named in `model`, supervise, answer as Anthropic does."""
    await refuse_invalid(service, request, caller, body, "anthropic")
    refuse_tools(body.tools)
    turns = [Message("system", plain_text(body.system, "system"))] if body.system else []
    for index, message in enumerate(body.messages):
        turns.append(Message(message.role, plain_text(message.content, f"messages[{index}]")))
    user = (body.metadata or {}).get("user_id")
    proxied = ProxyRequest(model=body.model, messages=tuple(turns), max_tokens=body.max_tokens,
                           temperature=body.temperature,
                           user=str(user) if user is not None else None)
    outcome = await run(service, request, caller, proxied, "anthropic")
    text, usage = outcome.decision.output, outcome.decision.usage
    if body.stream:
        if outcome.withheld:
            return sse([withheld_event(request, outcome)], outcome)
        return sse(MESSAGES.reply_events(body.model, text, deltas=deltas(text), usage=usage),
                   outcome)
    stop = "refusal" if outcome.withheld else "end_turn"
    return JSONResponse(MESSAGES.reply(body.model, text, stop=stop, usage=usage),
                        headers=outcome.headers())
