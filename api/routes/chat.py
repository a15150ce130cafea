"""`POST /v1/chat/completions`: the OpenAI-compatible supervising proxy.

Point `openai.OpenAI(base_url="http://HOST:PORT/v1", api_key=APP_KEY)` here and keep the
app's code. The answer comes back as a `chat.completion` (or `chat.completion.chunk`
frames ending in `[DONE]` when `stream` is set) carrying the released text. A blocked or
escalated answer is the constitution's message with `finish_reason: content_filter`; in
a stream it is an in-band `{"error": ...}` frame, which the SDK raises as `APIError`. A
failed supervision is an OpenAI error body (502 upstream, 503 supervisor) with the record id.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from api.access import AppCaller, ServiceDep
from api.errors import ApiError
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
from api.schemas import ChatCompletionRequest, ChatMessage
from supervisor.providers import Message, Role
from supervisor.wire.chat import CHAT

router = APIRouter(tags=["proxy"])


@router.post("/v1/chat/completions", response_model=None)
async def chat_completions(body: ChatCompletionRequest, request: Request,
                           service: ServiceDep, caller: AppCaller
                           ) -> JSONResponse | Response:
    """Generate with the primary model named in `model`, supervise, answer as OpenAI does."""
    await refuse_invalid(service, request, caller, body, "openai")
    refuse_tools(body.tools)
    if body.n not in (None, 1):
        raise ApiError(400, "n must be 1: the proxy supervises one answer per request",
                       param="n")
    proxied = ProxyRequest(model=body.model, messages=tuple(_messages(body.messages)),
                           max_tokens=body.max_completion_tokens or body.max_tokens,
                           temperature=body.temperature, user=body.user)
    outcome = await run(service, request, caller, proxied, "openai")
    text, usage = outcome.decision.output, outcome.decision.usage
    if body.stream:
        if outcome.withheld:
            return sse([withheld_event(request, outcome)], outcome)
        asked = bool((body.stream_options or {}).get("include_usage"))
        return sse(CHAT.reply_events(body.model, text, deltas=deltas(text),
                                     usage=usage if asked else None), outcome)
    finish = "content_filter" if outcome.withheld else "stop"
    return JSONResponse(CHAT.reply(body.model, text, finish=finish, usage=usage),
                        headers=outcome.headers())


# the roles a supervised conversation carries; a developer message is the new system one
ROLES: dict[str, Role] = {"system": "system", "developer": "system", "user": "user",
                         "assistant": "assistant"}


def _messages(given: list[ChatMessage]) -> list[Message]:
    out: list[Message] = []
    for index, message in enumerate(given):
        role = ROLES.get(message.role)
        if role is None:  # tool and function
            raise ApiError(400, f"messages[{index}] is a {message.role} message; the "
                           "supervising proxy does not carry tool calls",
                           param=f"messages[{index}].role")
        out.append(Message(role, plain_text(message.content, f"messages[{index}]")))
    return out
