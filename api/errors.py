"""Every error the service answers, in the shape its caller's SDK expects.

`/v1/messages` speaks Anthropic's error body (`{"type": "error", "error": {"type",
"message"}}`); every other route speaks OpenAI's (`{"error": {"message", "type",
"param", "code"}}`), which the OpenAI SDK parses and which reads well from curl too.
Each body also names the request id, and the record id when a decision was recorded.
Validation errors name the field; a body that cannot be parsed says why (not JSON, not
UTF-8, nested too deeply) and what to send instead; nothing reaches a caller as a stack
trace, and an unexpected exception is logged with its request id and answered with a
plain 500 (a lone surrogate that reached a route without its own check is a 400).

Errors set `x-should-retry: false` where a retry would only repeat a recorded decision.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic_core import PydanticSerializationError
from starlette.exceptions import HTTPException as StarletteHTTPException

from supervisor.errors import (
    ConfigError,
    ConstitutionError,
    LedgerError,
    ProviderError,
    ProviderRejected,
)

log = structlog.get_logger("api")

# our error type -> Anthropic's error type
ANTHROPIC_TYPES = {
    "invalid_request_error": "invalid_request_error",
    "authentication_error": "authentication_error",
    "permission_error": "permission_error",
    "not_found_error": "not_found_error",
    "request_too_large": "request_too_large",
    "rate_limit_error": "rate_limit_error",
    "supervisor_error": "api_error",
    "upstream_error": "api_error",
    "ledger_error": "api_error",
    "internal_error": "api_error",
}
STATUS_TYPES = {400: "invalid_request_error", 401: "authentication_error",
                403: "permission_error", 404: "not_found_error", 405: "invalid_request_error",
                409: "invalid_request_error", 413: "request_too_large",
                415: "invalid_request_error", 422: "invalid_request_error",
                429: "rate_limit_error"}


class ApiError(Exception):
    """An error answer: HTTP status, error type, a message that says what to do."""

    def __init__(self, status: int, message: str, *, kind: str = "", param: str | None = None,
                 code: str | None = None, headers: Mapping[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.kind = kind or STATUS_TYPES.get(status, "internal_error")
        self.param = param
        self.code = code
        self.headers = dict(headers or {})


def error_body(path: str, kind: str, message: str, *, param: str | None = None,
               code: str | None = None) -> dict[str, Any]:
    """The error body for a route: Anthropic's shape on /v1/messages, OpenAI's elsewhere."""
    if path.startswith("/v1/messages"):
        return {"type": "error",
                "error": {"type": ANTHROPIC_TYPES.get(kind, "api_error"), "message": message}}
    return {"error": {"message": message, "type": kind, "param": param, "code": code}}


def respond(request: Request, error: ApiError) -> JSONResponse:
    request_id = getattr(request.state, "request_id", "")
    message = error.message + (f" (request id {request_id})" if request_id else "")
    # an error about a text that is not Unicode must not fail to encode itself
    message = message.encode("utf-8", "backslashreplace").decode("utf-8")
    headers = {**error.headers}
    if request_id:
        headers["x-request-id"] = request_id
    return JSONResponse(error_body(request.url.path, error.kind, message, param=error.param,
                                   code=error.code),
                        status_code=error.status, headers=headers)


NOT_UNICODE = ("the request holds a lone UTF-16 surrogate (an escape such as \\ud800 "
               "without its pair), which is not Unicode text; send valid UTF-8")


def unparsable_body(cause: BaseException | None) -> str | None:
    """What is wrong with a body FastAPI could not parse (it says only "error parsing")."""
    if isinstance(cause, UnicodeDecodeError):
        return (f"the request body is not valid UTF-8: byte {cause.object[cause.start]:#04x} "
                f"at offset {cause.start} ({cause.reason}); encode the JSON body as UTF-8")
    if isinstance(cause, RecursionError):
        return ("the request body's JSON is nested too deeply to read (about 1,000 levels of "
                "arrays or objects); no request needs more than a few: flatten it")
    return None


def _surrogate_met_an_encoder(exc: Exception) -> bool:
    """A lone surrogate reached Python's UTF-8 codec or pydantic's JSON serialiser."""
    return (isinstance(exc, UnicodeEncodeError | PydanticSerializationError)
            and "surrogates not allowed" in str(exc))


def _said(problem: Mapping[str, Any]) -> str:
    """Pydantic's message for one problem, in our words where its own are vague."""
    if problem.get("type") == "string_unicode":  # pydantic's words for a lone surrogate
        return "holds a lone UTF-16 surrogate, which is not Unicode text; send valid UTF-8"
    return str(problem.get("msg", "invalid"))


def field_of(location: Sequence[Any]) -> str:
    """`("body", "messages", 0, "role")` -> `messages[0].role`."""
    out = ""
    for part in location:
        if part in ("body", "query", "path", "header"):
            continue
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "body"


def install(app: FastAPI) -> None:
    """Register the handlers that turn every failure into a shaped answer."""

    @app.exception_handler(ApiError)
    async def api_error(request: Request, exc: ApiError) -> JSONResponse:
        return respond(request, exc)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        problems = exc.errors()
        first = problems[0] if problems else {}
        field = field_of(first.get("loc", ()))
        if first.get("type") == "json_invalid":
            where = [p for p in first.get("loc", ()) if isinstance(p, int)]
            why = str((first.get("ctx") or {}).get("error") or first.get("msg", ""))
            message = (f"the request body is not valid JSON: {why}"
                       + (f" at character {where[0]}" if where else "")
                       + "; send one JSON object")
            field = "body"
        else:
            message = "; ".join(f"{field_of(p.get('loc', ()))}: {_said(p)}"
                                for p in problems[:5])
        return respond(request, ApiError(400, message, param=field))

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        unparsed = unparsable_body(exc.__cause__) if exc.status_code == 400 else None
        if unparsed is not None:
            return respond(request, ApiError(400, unparsed, param="body",
                                             code="invalid_body"))
        return respond(request, ApiError(exc.status_code, str(exc.detail),
                                         headers=exc.headers or {}))

    @app.exception_handler(ConstitutionError)
    async def bad_constitution(request: Request, exc: ConstitutionError) -> JSONResponse:
        return respond(request, ApiError(400, str(exc), param="constitution"))

    @app.exception_handler(ConfigError)
    async def bad_config(request: Request, exc: ConfigError) -> JSONResponse:
        return respond(request, ApiError(400, str(exc)))

    @app.exception_handler(ProviderError)
    async def provider(request: Request, exc: ProviderError) -> JSONResponse:
        status = 400 if isinstance(exc, ProviderRejected) else 502
        return respond(request, ApiError(status, f"model call failed: {exc}",
                                         kind="upstream_error",
                                         headers={"x-should-retry": "false"}))

    @app.exception_handler(LedgerError)
    async def ledger(request: Request, exc: LedgerError) -> JSONResponse:
        log.error("ledger_error", error=str(exc),
                  request_id=getattr(request.state, "request_id", ""))
        return respond(request, ApiError(503, f"the audit ledger cannot be written: {exc}; "
                                         "nothing was released", kind="ledger_error",
                                         headers={"x-should-retry": "false"}))

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        if _surrogate_met_an_encoder(exc):
            log.warning("lone_surrogate", request_id=getattr(request.state, "request_id", ""),
                        path=request.url.path)
            return respond(request, ApiError(400, NOT_UNICODE, param="body",
                                             code="invalid_text"))
        log.exception("unexpected_error", request_id=getattr(request.state, "request_id", ""),
                      error_type=type(exc).__name__)
        return respond(request, ApiError(500, "internal error; the service log has the "
                                         "details under this request id",
                                         kind="internal_error"))
