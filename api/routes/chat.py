"""`POST /v1/chat/completions`: the OpenAI-compatible supervising proxy.

Point `openai.OpenAI(base_url="http://HOST:PORT/v1", api_key=APP_KEY)` here and keep the
app's code. The answer comes back as a `chat.completion` (or `chat.completion.chunk`
frames ending in `[DONE]` when `stream` is set) carrying the released text. A blocked or
escalated answer is the constitution's message with `finish_reason: content_filter`; in
a stream it is an in-band `{"error": ...}` frame, which the SDK raises as `APIError`. A
failed supervision is an OpenAI error body (502 upstream, 503 supervisor) with the record id.
"""

from __future__ import annotations

import time
import uuid
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, StreamingResponse

from api.access import AppCaller, ServiceDep
from api.errors import ApiError
from api.routes.proxy import Exchange, Outcome, plain_text, run, sse
from api.schemas import ChatCompletionRequest, ChatMessage
from supervisor.middleware.streams import Event, pieces
from supervisor.providers import Message

router = APIRouter(tags=["proxy"])
PIECE = 24  # characters per streamed delta


@router.post("/v1/chat/completions", response_model=None)
async def chat_completions(body: ChatCompletionRequest, request: Request,
                           service: ServiceDep, caller: AppCaller
                           ) -> JSONResponse | StreamingResponse:
    """Generate with the primary model named in `model`, supervise, answer as OpenAI does."""
    if body.tools:
        raise ApiError(400, "tools are not supported by the supervising proxy: a tool call "
                       "cannot be checked as an answer", param="tools")
    if body.n not in (None, 1):
        raise ApiError(400, "n must be 1: the proxy supervises one answer per request",
                       param="n")
    exchange = Exchange(model=body.model, messages=tuple(_messages(body.messages)),
                        max_tokens=body.max_completion_tokens or body.max_tokens,
                        temperature=body.temperature, user=body.user,
                        stream=bool(body.stream))
    outcome = await run(service, request, caller, exchange, "openai")
    if outcome.failed:
        raise ApiError(outcome.status, outcome.message(), kind="supervisor_error",
                       code="supervision_failed",
                       headers={**outcome.headers(), "x-should-retry": "false"})
    if exchange.stream:
        usage = bool((body.stream_options or {}).get("include_usage"))
        return sse(_events(body.model, outcome, include_usage=usage), outcome)
    return JSONResponse(_completion(body.model, outcome), headers=outcome.headers())


def _messages(given: list[ChatMessage]) -> list[Message]:
    out: list[Message] = []
    for index, message in enumerate(given):
        if message.role in ("tool", "function"):
            raise ApiError(400, f"messages[{index}] is a {message.role} message; the "
                           "supervising proxy does not carry tool calls",
                           param=f"messages[{index}].role")
        role = "system" if message.role == "developer" else message.role
        out.append(Message(role, plain_text(message.content, f"messages[{index}]")))  # type: ignore[arg-type]
    return out


def _usage(outcome: Outcome) -> dict[str, int]:
    usage = outcome.decision.usage
    return {"prompt_tokens": usage.input_tokens, "completion_tokens": usage.output_tokens,
            "total_tokens": usage.input_tokens + usage.output_tokens}


def _finish(outcome: Outcome) -> str:
    return "content_filter" if outcome.withheld else "stop"


def _completion(model: str, outcome: Outcome) -> dict[str, Any]:
    return {"id": _id(), "object": "chat.completion", "created": int(time.time()),
            "model": model, "system_fingerprint": None,
            "choices": [{"index": 0, "finish_reason": _finish(outcome), "logprobs": None,
                         "message": {"role": "assistant", "content": outcome.decision.output,
                                     "refusal": None}}],
            "usage": _usage(outcome)}


def _events(model: str, outcome: Outcome, *, include_usage: bool) -> list[Event]:
    if outcome.withheld:
        return [Event.of({"error": {"message": outcome.message(), "type": "supervisor_error",
                                    "param": None, "code": str(outcome.decision.action)}})]
    base = {"id": _id(), "object": "chat.completion.chunk", "created": int(time.time()),
            "model": model, "system_fingerprint": None}

    def chunk(delta: dict[str, Any], finish: str | None = None) -> Event:
        return Event.of({**base, "choices": [{"index": 0, "delta": delta, "logprobs": None,
                                              "finish_reason": finish}]})

    text = outcome.decision.output
    events = [chunk({"role": "assistant", "content": ""})]
    events += [chunk({"content": p}) for p in pieces(text, max(1, -(-len(text) // PIECE)))]
    events.append(chunk({}, "stop"))
    if include_usage:
        events.append(Event.of({**base, "choices": [], "usage": _usage(outcome)}))
    return [*events, Event("[DONE]")]


def _id() -> str:
    return f"chatcmpl-sup-{uuid.uuid4().hex[:24]}"
