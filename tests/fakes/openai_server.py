"""A fake OpenAI Chat Completions API speaking the real wire format, for the official SDK.

Shapes follow OpenAI's API reference: a `chat.completion` object with `choices[0].message`
(`content`, `refusal`), `finish_reason` and `usage` (prompt/completion/total tokens);
errors as `{"error": {"message", "type", "param", "code"}}` (400 invalid_request_error,
401 invalid_api_key, 429 rate_limit_exceeded with `retry-after`, 500 server_error, 503);
streaming as unnamed SSE `data:` frames of `chat.completion.chunk` objects, a final
usage chunk with empty `choices` when `stream_options.include_usage` is set, then
`data: [DONE]`. A scripted `completion(...)` is streamed automatically when the request
says `"stream": true`.

    fake = FakeOpenAI([json_answer({"verdicts": [...]}), error(429, retry_after="2")])
    client = AsyncOpenAI(api_key="k", http_client=fake.client(), max_retries=0)
    with fake.serve() as url: ...   # OPENAI_BASE_URL=url + "/v1"
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Mapping, Sequence
from typing import Any

from tests.fakes.scripted import Recorded, Reply, Script, ScriptedServer

ERRORS = {400: ("invalid_request_error", None), 401: ("invalid_request_error",
                                                     "invalid_api_key"),
          403: ("invalid_request_error", "unsupported_country_region_territory"),
          404: ("invalid_request_error", "model_not_found"),
          429: ("requests", "rate_limit_exceeded"), 500: ("server_error", None),
          502: ("server_error", None), 503: ("server_error", None)}
_ids = itertools.count(1)
CREATED = 1_767_225_600


def completion(content: str | None = "", *, refusal: str | None = None,
               finish_reason: str = "stop", model: str = "gpt-4o-mini",
               prompt_tokens: int = 30, completion_tokens: int = 15) -> Reply:
    """A 200 `chat.completion` with one choice."""
    body = {
        "id": f"chatcmpl-{next(_ids):06d}", "object": "chat.completion", "created": CREATED,
        "model": model, "system_fingerprint": "fp_fake",
        "choices": [{"index": 0, "finish_reason": finish_reason, "logprobs": None,
                     "message": {"role": "assistant", "content": content,
                                 "refusal": refusal, "annotations": []}}],
        "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
                  "total_tokens": prompt_tokens + completion_tokens},
    }
    return Reply(200, body, headers={"x-request-id": f"req_{next(_ids):06d}"})


def json_answer(data: Mapping[str, Any], **kwargs: Any) -> Reply:
    """A completion whose content is `data` as JSON (what strict json_schema returns)."""
    return completion(json.dumps(data), **kwargs)


def error(status: int, message_text: str = "", *, retry_after: str | None = None) -> Reply:
    """An error response with OpenAI's body shape; `retry_after` sets the header."""
    kind, code = ERRORS.get(status, ("server_error", None))
    headers = {"x-request-id": f"req_{next(_ids):06d}"}
    if retry_after is not None:
        headers["retry-after"] = retry_after
    return Reply(status, {"error": {"message": message_text or f"fake {status}",
                                    "type": kind, "param": None, "code": code}},
                 headers=headers)


def as_events(body: Mapping[str, Any], *, chunk: int = 8,
              include_usage: bool = True) -> list[tuple[str | None, Any]]:
    """A `chat.completion` body as the SSE chunks the API would have streamed for it."""
    base = {"id": body["id"], "object": "chat.completion.chunk", "created": body["created"],
            "model": body["model"], "system_fingerprint": body["system_fingerprint"]}
    message = body["choices"][0]["message"]

    def frame(delta: dict[str, Any], finish: str | None = None) -> tuple[None, Any]:
        return None, {**base, "choices": [{"index": 0, "delta": delta, "logprobs": None,
                                           "finish_reason": finish}]}

    events = [frame({"role": "assistant", "content": "", "refusal": None})]
    if message.get("refusal"):
        events.append(frame({"refusal": message["refusal"]}))
    text = message.get("content") or ""
    events += [frame({"content": text[i:i + chunk]}) for i in range(0, len(text), chunk)]
    events.append(frame({}, body["choices"][0]["finish_reason"]))
    if include_usage:
        events.append((None, {**base, "choices": [], "usage": body["usage"]}))
    events.append((None, "[DONE]"))
    return events


class FakeOpenAI(ScriptedServer):
    """POST /v1/chat/completions from a script; streams a scripted completion when asked."""

    def __init__(self, script: Script | Sequence[Reply] = (), *,
                 repeat_last: bool = False) -> None:
        super().__init__(script, repeat_last=repeat_last)

    def adapt(self, recorded: Recorded, reply: Reply) -> Reply:
        """Send a 200 completion as SSE chunks when the request set `"stream": true`."""
        body = recorded.body if isinstance(recorded.body, dict) else {}
        if (body.get("stream") is True and reply.status == 200 and reply.events is None
                and isinstance(reply.body, dict)
                and reply.body.get("object") == "chat.completion"):
            usage = bool((body.get("stream_options") or {}).get("include_usage"))
            return Reply(200, headers=reply.headers, delay=reply.delay,
                         events=as_events(reply.body, include_usage=usage))
        return reply
