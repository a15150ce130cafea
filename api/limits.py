"""ASGI middleware around the whole app: request ids, the body-size limit, the access log.

Written as plain ASGI (wrapping the next app, as Starlette's own middleware does) so the
body limit works on the byte stream: a declared `content-length` over the limit is
refused before any of the body is read, and a chunked body is cut off as soon as it
passes the limit, never buffered whole. The log line per request carries the request id,
route, status, duration and the decision's record id and action, never a text.
"""

from __future__ import annotations

import json
import re
import time
import uuid
from collections.abc import Callable
from typing import Any

import structlog
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.errors import error_body

log = structlog.get_logger("api.access")
_SAFE_ID = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")


class TooLarge(HTTPException):
    """The body passed the limit while it was being read (FastAPI re-raises it as is)."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"the request body is larger than {limit} bytes; send less, "
                              "or raise SUPERVISOR_MAX_BODY_BYTES")


class Limits:
    """Request ids, `max_body_bytes`, and one structured log line per request."""

    def __init__(self, app: ASGIApp, *, max_body_bytes: int = 1 << 20,
                 observe: Callable[[str, int, float], None] | None = None) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.observe = observe  # (route template, status, seconds), for the metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        given = _header(scope, b"x-request-id")
        request_id = given if given and _SAFE_ID.match(given) else uuid.uuid4().hex[:16]
        scope.setdefault("state", {})["request_id"] = request_id
        status: dict[str, Any] = {"code": 0, "record": "", "action": ""}

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [(k, v) for k, v in message.get("headers", [])
                           if k.lower() != b"x-request-id"]
                headers.append((b"x-request-id", request_id.encode()))
                message = {**message, "headers": headers}
                status["code"] = message["status"]
                for key, value in headers:
                    if key == b"x-supervisor-record-id":
                        status["record"] = value.decode()
                    elif key == b"x-supervisor-action":
                        status["action"] = value.decode()
            await send(message)

        declared = _header(scope, b"content-length")
        if declared and declared.isdigit() and int(declared) > self.max_body_bytes:
            await self._refuse(scope, send_with_id, request_id)
        else:
            seen = 0

            async def counted() -> Message:
                nonlocal seen
                message = await receive()
                if message["type"] == "http.request":
                    seen += len(message.get("body", b""))
                    if seen > self.max_body_bytes:
                        raise TooLarge(self.max_body_bytes)
                return message

            try:
                await self.app(scope, counted, send_with_id)
            except TooLarge:
                if status["code"]:
                    raise
                await self._refuse(scope, send_with_id, request_id)
        took = time.perf_counter() - started
        route = getattr(scope.get("route"), "path", "unmatched")
        if self.observe is not None:
            self.observe(f"{scope.get('method')} {route}", int(status["code"]), took)
        log.info("request", request_id=request_id, method=scope.get("method"),
                 path=scope.get("path"), route=route, status=status["code"],
                 ms=round(took * 1000, 2), record_id=status["record"] or None,
                 action=status["action"] or None)

    async def _refuse(self, scope: Scope, send: Send, request_id: str) -> None:
        body = error_body(scope.get("path", ""), "request_too_large",
                          f"{TooLarge(self.max_body_bytes).detail} (request id {request_id})")
        payload = json.dumps(body).encode()
        await send({"type": "http.response.start", "status": 413,
                    "headers": [(b"content-type", b"application/json"),
                                (b"content-length", str(len(payload)).encode()),
                                (b"connection", b"close")]})
        await send({"type": "http.response.body", "body": payload})


def _header(scope: Scope, name: bytes) -> str:
    for key, value in scope.get("headers", []):
        if key.lower() == name:
            decoded: Any = value.decode("latin-1")
            return str(decoded).strip()
    return ""
