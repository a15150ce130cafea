"""Replies in the OpenAI Responses wire format, for the shared FakeOpenAI's script.

Shapes follow OpenAI's API reference for `POST /v1/responses`: a `response` object whose
`output` holds a `message` item with `output_text` parts; streaming as named SSE events
with a `sequence_number` each (response.created, response.in_progress,
response.output_item.added, response.content_part.added, response.output_text.delta,
response.output_text.done, response.content_part.done, response.output_item.done,
response.completed). The shared fake streams only chat completions by itself, so a
streamed Responses answer is scripted with `response_stream`.
"""

from __future__ import annotations

import itertools
from typing import Any

from tests.fakes.scripted import Reply

CREATED = 1_767_225_600
_ids = itertools.count(1)


def response_body(*texts: str, model: str = "gpt-4o-mini") -> dict[str, Any]:
    """A completed `response` with one message item holding one output_text per text."""
    item = {"type": "message", "id": f"msg_{next(_ids):06d}", "status": "completed",
            "role": "assistant",
            "content": [{"type": "output_text", "text": t, "annotations": [],
                         "logprobs": []} for t in texts]}
    return {"id": f"resp_{next(_ids):06d}", "object": "response", "created_at": CREATED,
            "status": "completed", "model": model, "output": [item],
            "parallel_tool_calls": True, "tool_choice": "auto", "tools": [],
            "error": None, "incomplete_details": None, "instructions": None,
            "usage": {"input_tokens": 20, "output_tokens": 12, "total_tokens": 32,
                      "input_tokens_details": {"cached_tokens": 0},
                      "output_tokens_details": {"reasoning_tokens": 0}}}


def response(*texts: str, **kwargs: Any) -> Reply:
    """A 200 `response` (non-streaming)."""
    return Reply(200, response_body(*texts, **kwargs),
                 headers={"x-request-id": f"req_{next(_ids):06d}"})


def response_stream(*texts: str, chunk: int = 8, fail: bool = False,
                    **kwargs: Any) -> Reply:
    """The same response as the event stream the API sends; `fail` ends it in `error`."""
    done = response_body(*texts, **kwargs)
    item = done["output"][0]
    events: list[dict[str, Any]] = [
        {"type": "response.created", "response": {**done, "status": "in_progress",
                                                  "output": []}},
        {"type": "response.in_progress", "response": {**done, "status": "in_progress",
                                                      "output": []}},
        {"type": "response.output_item.added", "output_index": 0,
         "item": {**item, "status": "in_progress", "content": []}},
    ]
    for ci, part in enumerate(item["content"]):
        where = {"item_id": item["id"], "output_index": 0, "content_index": ci}
        events.append({"type": "response.content_part.added", **where,
                       "part": {**part, "text": ""}})
        text = part["text"]
        events += [{"type": "response.output_text.delta", **where,
                    "delta": text[i:i + chunk], "logprobs": []}
                   for i in range(0, len(text), chunk)]
        if fail:
            events.append({"type": "error", "code": "server_error",
                           "message": "The server had an error", "param": None})
            break
        events.append({"type": "response.output_text.done", **where, "text": text,
                       "logprobs": []})
        events.append({"type": "response.content_part.done", **where, "part": part})
    if not fail:
        events.append({"type": "response.output_item.done", "output_index": 0,
                       "item": item})
        events.append({"type": "response.completed", "response": done})
    numbered = [(e["type"], {**e, "sequence_number": n}) for n, e in enumerate(events)]
    return Reply(200, events=numbered)
