"""A fake Anthropic Messages API speaking the real wire format, for the official SDK.

Shapes follow Anthropic's API reference: a `message` object with `content` blocks
(`text`, `tool_use`), `stop_reason` and `usage`; errors as
`{"type": "error", "error": {"type": "overloaded_error", "message": ...}}` with the
matching status (400 invalid_request_error, 401 authentication_error, 403
permission_error, 404 not_found_error, 429 rate_limit_error, 500 api_error, 529
overloaded_error) and a `request-id` header; streaming as the named SSE events
message_start, content_block_start, ping, content_block_delta (text_delta,
input_json_delta), content_block_stop, message_delta, message_stop, or `error`.

A scripted `message(...)` reply is sent as SSE automatically when the request says
`"stream": true`, so one script serves both modes.

    fake = FakeAnthropic([tool_call("record_verdicts", {...}), error(529)])
    client = AsyncAnthropic(api_key="k", http_client=fake.client(), max_retries=0)
    with fake.serve() as url: ...   # or a real server at ANTHROPIC_BASE_URL=url
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Mapping, Sequence
from typing import Any

from tests.fakes.scripted import Recorded, Reply, Script, ScriptedServer

ERROR_TYPES = {400: "invalid_request_error", 401: "authentication_error",
               403: "permission_error", 404: "not_found_error", 413: "request_too_large",
               429: "rate_limit_error", 500: "api_error", 503: "api_error",
               529: "overloaded_error"}
_ids = itertools.count(1)


def message(text: str = "", *, tool: tuple[str, Mapping[str, Any]] | None = None,
            stop_reason: str | None = None, model: str = "claude-haiku-4-5",
            input_tokens: int = 25, output_tokens: int = 12) -> Reply:
    """A 200 `message`: optional text block, optional tool_use block, usage."""
    content: list[dict[str, Any]] = []
    if text:
        content.append({"type": "text", "text": text})
    if tool is not None:
        content.append({"type": "tool_use", "id": f"toolu_{next(_ids):06d}",
                        "name": tool[0], "input": dict(tool[1])})
    body = {
        "id": f"msg_{next(_ids):06d}", "type": "message", "role": "assistant",
        "model": model, "content": content,
        "stop_reason": stop_reason or ("tool_use" if tool else "end_turn"),
        "stop_sequence": None,
        "usage": {"input_tokens": input_tokens, "output_tokens": output_tokens,
                  "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0},
    }
    return Reply(200, body, headers={"request-id": f"req_{next(_ids):06d}"})


def tool_call(name: str, data: Mapping[str, Any], **kwargs: Any) -> Reply:
    """A 200 `message` whose only content is a forced tool call with `data` as input."""
    return message(tool=(name, data), **kwargs)


def error(status: int, message_text: str = "", *, retry_after: str | None = None,
          kind: str | None = None) -> Reply:
    """An error response with Anthropic's body shape and, for 429, a retry-after header."""
    kind = kind or ERROR_TYPES.get(status, "api_error")
    headers = {"request-id": f"req_{next(_ids):06d}"}
    if retry_after is not None:
        headers["retry-after"] = retry_after
    return Reply(status, {"type": "error", "error": {"type": kind,
                                                     "message": message_text or kind},
                          "request_id": headers["request-id"]}, headers=headers)


def stream_error(kind: str = "overloaded_error") -> Reply:
    """A stream that starts, then fails with an in-band `error` event (as under load)."""
    start = message("", input_tokens=10, output_tokens=1)
    return Reply(200, events=[("message_start", {"type": "message_start",
                                                 "message": start.body}),
                              ("error", {"type": "error",
                                         "error": {"type": kind, "message": kind}})])


def as_events(body: Mapping[str, Any], *, chunk: int = 8) -> list[tuple[str | None, Any]]:
    """A `message` body as the SSE events the API would have streamed for it."""
    start = {**body, "content": [], "stop_reason": None,
             "usage": {**body["usage"], "output_tokens": 1}}
    events: list[tuple[str | None, Any]] = [
        ("message_start", {"type": "message_start", "message": start}),
        ("ping", {"type": "ping"}),
    ]
    for index, block in enumerate(body["content"]):
        if block["type"] == "text":
            events.append(("content_block_start", {"type": "content_block_start", "index": index,
                                                   "content_block": {"type": "text", "text": ""}}))
            deltas = [{"type": "text_delta", "text": block["text"][i:i + chunk]}
                      for i in range(0, len(block["text"]), chunk)]
        else:
            events.append(("content_block_start", {
                "type": "content_block_start", "index": index,
                "content_block": {**block, "input": {}}}))
            raw = json.dumps(block["input"])
            deltas = [{"type": "input_json_delta", "partial_json": raw[i:i + chunk]}
                      for i in range(0, len(raw), chunk)]
        events += [("content_block_delta", {"type": "content_block_delta", "index": index,
                                            "delta": d}) for d in deltas]
        events.append(("content_block_stop", {"type": "content_block_stop", "index": index}))
    events.append(("message_delta", {"type": "message_delta",
                                     "delta": {"stop_reason": body["stop_reason"],
                                               "stop_sequence": None},
                                     "usage": {"output_tokens": body["usage"]["output_tokens"]}}))
    events.append(("message_stop", {"type": "message_stop"}))
    return events


class FakeAnthropic(ScriptedServer):
    """POST /v1/messages from a script; streams a scripted message when asked to."""

    def __init__(self, script: Script | Sequence[Reply] = (), *,
                 repeat_last: bool = False) -> None:
        super().__init__(script, repeat_last=repeat_last)

    def adapt(self, recorded: Recorded, reply: Reply) -> Reply:
        """Send a 200 message as SSE events when the request set `"stream": true`."""
        wants_stream = isinstance(recorded.body, dict) and recorded.body.get("stream") is True
        if (wants_stream and reply.status == 200 and reply.events is None
                and isinstance(reply.body, dict) and reply.body.get("type") == "message"):
            return Reply(200, headers=reply.headers, events=as_events(reply.body),
                         delay=reply.delay)
        return reply
