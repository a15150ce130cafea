"""A scripted Provider for tests: yours and ours.

It answers from a script (a list of replies, or a function of the request), records every
request it was sent and counts tokens the way a vendor would bill them (roughly four
characters a token), so integration tests can assert on calls and cost without a network.
A scripted reply can be an exception instance, which is raised instead of answering.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from supervisor.providers import ChatRequest, ChatResponse

Reply = str | Mapping[str, Any] | BaseException
Script = Iterable[Reply] | Callable[[ChatRequest], Reply]


def count_tokens(text: str) -> int:
    """An approximation of BPE token counts: about four characters per token."""
    return max(1, (len(text) + 3) // 4) if text else 0


@dataclass
class FakeProvider:
    """Answers from `script`; `calls` keeps every request, `input_tokens`/`output_tokens` add up.

    A Mapping reply is returned as structured data (as a tool call or JSON-schema answer
    would be); a str reply is returned as text, and parsed as JSON into `data` when the
    request asked for a schema and the text parses (as the OpenAI adapter does).
    """

    script: Script = ()
    name: str = "fake:scripted"
    calls: list[ChatRequest] = field(default_factory=list)
    input_tokens: int = 0
    output_tokens: int = 0
    _queue: list[Reply] = field(default_factory=list, init=False, repr=False)

    def __post_init__(self) -> None:
        if not callable(self.script):
            self._queue = list(self.script)

    async def complete(self, request: ChatRequest) -> ChatResponse:
        self.calls.append(request)
        reply = self._next(request)
        if isinstance(reply, BaseException):
            raise reply
        prompt = request.system + "".join(m.content for m in request.messages)
        data: Mapping[str, Any] | None
        if isinstance(reply, Mapping):
            data, text = reply, json.dumps(reply)
        else:
            text, data = reply, _maybe_json(reply) if request.schema is not None else None
        used_in, used_out = count_tokens(prompt), count_tokens(text)
        self.input_tokens += used_in
        self.output_tokens += used_out
        return ChatResponse(text=text, model=self.name.partition(":")[2] or self.name,
                            provider="fake", data=data, input_tokens=used_in,
                            output_tokens=used_out, stop_reason="end_turn")

    def _next(self, request: ChatRequest) -> Reply:
        if callable(self.script):
            return self.script(request)
        if not self._queue:
            raise AssertionError(f"FakeProvider {self.name} has no scripted reply left "
                                 f"for call {len(self.calls)}")
        return self._queue.pop(0)


def _maybe_json(text: str) -> Mapping[str, Any] | None:
    try:
        value = json.loads(text)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None
