"""A scripted HTTP server, the base of the vendor-shaped fakes (Anthropic, OpenAI).

One script serves two front ends, so a test picks the seam it needs:

- `transport()`: an `httpx2.MockTransport` for the SDK's `http_client=` (no socket);
- `serve()`: a real HTTP/1.1 server on 127.0.0.1 in a thread, for anything that only
  takes a base URL (`ANTHROPIC_BASE_URL`, `OPENAI_BASE_URL`, the CLI, the proxy).

A script is a list of `Reply` values (used in order, the last one repeated when
`repeat_last` is set) or a function of the recorded request. Every request is recorded
(`requests`) with its path, headers and JSON body. A `Reply` can delay, drop the
connection, send a malformed body, or stream server-sent events.
"""

from __future__ import annotations

import asyncio
import json
import socket
import struct
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx2


@dataclass(frozen=True)
class Recorded:
    """One request the fake received."""

    method: str
    path: str
    headers: Mapping[str, str]
    body: Any

    @property
    def json(self) -> dict[str, Any]:
        """The request body as a JSON object (every vendor call sends one)."""
        assert isinstance(self.body, dict), f"request body is not a JSON object: {self.body!r}"
        return self.body


@dataclass(frozen=True)
class Reply:
    """What the fake answers: a JSON body or raw bytes, or SSE events; or a fault."""

    status: int = 200
    body: Any = None
    headers: Mapping[str, str] = field(default_factory=dict)
    events: Sequence[tuple[str | None, Any]] | None = None
    delay: float = 0.0
    reset: bool = False  # drop the connection without answering

    def payload(self) -> bytes:
        """The body's bytes: JSON for a mapping or list, as-is for bytes or str."""
        if isinstance(self.body, bytes):
            return self.body
        if isinstance(self.body, str):
            return self.body.encode()
        return json.dumps(self.body).encode()

    def sse(self) -> Iterator[bytes]:
        """Each event as an SSE frame: `event:` line when named, `data:` line, blank line."""
        for name, data in self.events or ():
            text = data if isinstance(data, str) else json.dumps(data)
            frame = (f"event: {name}\n" if name else "") + f"data: {text}\n\n"
            yield frame.encode()


Script = Sequence[Reply] | Callable[[Recorded], Reply]


class ScriptedServer:
    """Answers requests from a script and records them; see the module docstring."""

    def __init__(self, script: Script = (), *, repeat_last: bool = False) -> None:
        self.requests: list[Recorded] = []
        self._script = script
        self._queue = [] if callable(script) else list(script)
        self._repeat_last = repeat_last
        self._lock = threading.Lock()

    # -- what to answer (vendor subclasses turn a plain reply into their stream) --------

    def route(self, recorded: Recorded) -> Reply:
        """The scripted reply to `recorded`, adapted by the vendor subclass."""
        with self._lock:
            self.requests.append(recorded)
            if callable(self._script):
                reply = self._script(recorded)
            elif self._queue:
                reply = self._queue[0] if self._repeat_last and len(self._queue) == 1 \
                    else self._queue.pop(0)
            else:
                reply = Reply(599, {"error": "the fake server's script ran out"})
        return self.adapt(recorded, reply)

    def adapt(self, recorded: Recorded, reply: Reply) -> Reply:
        """Hook for vendors: e.g. turn a message into SSE when the request asked to stream."""
        return reply

    # -- front end 1: httpx2.MockTransport ---------------------------------------------

    def transport(self) -> httpx2.MockTransport:
        """A transport for `httpx2.AsyncClient(transport=...)`; faults raise httpx2 errors."""

        async def handle(request: httpx2.Request) -> httpx2.Response:
            reply = self.route(_record(request.method, request.url.path,
                                       dict(request.headers), await request.aread()))
            if reply.delay:
                await asyncio.sleep(reply.delay)
            if reply.reset:
                raise httpx2.ReadError("connection reset by peer", request=request)
            headers = dict(reply.headers)
            if reply.events is not None:
                headers.setdefault("content-type", "text/event-stream")
                return httpx2.Response(reply.status, headers=headers,
                                       content=b"".join(reply.sse()))
            headers.setdefault("content-type", "application/json")
            return httpx2.Response(reply.status, headers=headers, content=reply.payload())

        return httpx2.MockTransport(handle)

    def client(self) -> httpx2.AsyncClient:
        """An `httpx2.AsyncClient` wired to `transport()`, for an SDK's `http_client=`."""
        return httpx2.AsyncClient(transport=self.transport())

    # -- front end 2: a real server on loopback ----------------------------------------

    @contextmanager
    def serve(self) -> Iterator[str]:
        """Run on 127.0.0.1 (a free port) for the duration; yields the base URL."""
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:  # the SDKs only POST to these endpoints
                self._answer()

            def do_GET(self) -> None:
                self._answer()

            def _answer(self) -> None:
                size = int(self.headers.get("content-length") or 0)
                raw = self.rfile.read(size) if size else b""
                path = self.path.split("?", 1)[0]
                reply = fake.route(_record(self.command, path, dict(self.headers), raw))
                if reply.delay:
                    time.sleep(reply.delay)
                if reply.reset:
                    # SO_LINGER 0 makes close() send a TCP RST: a real connection reset
                    self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                               struct.pack("ii", 1, 0))
                    self.close_connection = True
                    return
                self.send_response(reply.status)
                for name, value in reply.headers.items():
                    self.send_header(name, value)
                if reply.events is not None:
                    self.send_header("content-type", "text/event-stream")
                    self.send_header("cache-control", "no-cache")
                    self.send_header("connection", "close")
                    self.end_headers()
                    for frame in reply.sse():
                        self.wfile.write(frame)
                        self.wfile.flush()
                    self.close_connection = True
                    return
                body = reply.payload()
                if not any(k.lower() == "content-type" for k in reply.headers):
                    self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:  # keep test output clean
                return

        server = _QuietServer(("127.0.0.1", 0), Handler)
        server.daemon_threads = True
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            yield f"http://127.0.0.1:{server.server_address[1]}"
        finally:
            server.shutdown()
            server.server_close()
            thread.join(timeout=5)


class _QuietServer(ThreadingHTTPServer):
    """A client that hung up on a slow reply (a timeout test) is expected, not an error."""

    def handle_error(self, request: Any, client_address: Any) -> None:
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


def _record(method: str, path: str, headers: Mapping[str, str], raw: bytes) -> Recorded:
    try:
        body: Any = json.loads(raw) if raw else None
    except ValueError:
        body = raw
    return Recorded(method, path, {k.lower(): v for k, v in headers.items()}, body)
