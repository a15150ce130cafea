"""Rendering console pages: one Jinja2 environment, the route class, security headers.

Templates autoescape everything and fail on an undefined name, so a typo is a test
failure rather than an empty cell. A record's body is data, though, which a script may
have appended with any fields (`await ledger.append(kind, body)`): a field a JSON object
lacks reads as None, and None is shown as nothing, so such a record renders.

Pages are never cached (they show audit records), may not be framed, and load nothing
but the console's own stylesheet: the Content Security Policy forbids scripts and any
other origin outright.

`ConsoleRoute` turns a `Refusal` raised anywhere in a route or its dependencies into a
page: no session sends the browser to the login form; a missing CSRF token is a 403 page.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine, Mapping
from pathlib import Path
from typing import Any

from fastapi import Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.routing import APIRoute
from jinja2 import Environment, FileSystemLoader, StrictUndefined, Undefined, select_autoescape

from api.console.session import CsrfRefused, LoginNeeded, Reader, Refusal, login_location

TEMPLATES = Path(__file__).resolve().parent.parent / "templates"
STATIC = Path(__file__).resolve().parent.parent / "static"
HEADERS = {
    "cache-control": "no-store",
    "content-security-policy": "default-src 'none'; style-src 'self'; img-src 'self'; "
                               "form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    "x-frame-options": "DENY",
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
}
ACTIONS = ("allow", "revise", "block", "escalate", "error")



class ConsoleEnvironment(Environment):
    """Strict about names; a key missing from a JSON object (`body.action`, and in
    filters such as `selectattr('verdict.violated')`) is None."""

    def getattr(self, obj: Any, attribute: str) -> Any:
        found = super().getattr(obj, attribute)
        if isinstance(found, Undefined) and isinstance(obj, Mapping):
            return None
        return found

    def getitem(self, obj: Any, argument: Any) -> Any:
        found = super().getitem(obj, argument)
        if isinstance(found, Undefined) and isinstance(obj, Mapping):
            return None
        return found


def _shown(value: Any) -> Any:
    return "" if value is None else value


environment = ConsoleEnvironment(
    loader=FileSystemLoader(TEMPLATES),
    autoescape=select_autoescape(("html",), ("txt",), default=True),
    undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True, finalize=_shown)
environment.globals["ACTIONS"] = ACTIONS


def page(name: str, user: Reader | None, *, status: int = 200, **context: Any) -> HTMLResponse:
    """A console page from `templates/<name>`, with the reader and the security headers."""
    html = environment.get_template(name).render(user=user, **context)
    return HTMLResponse(html, status_code=status, headers=HEADERS)


def bad_filter(user: Reader, problem: Exception, back: str) -> HTMLResponse:
    """A 400 page for a filter field that cannot be read (a malformed `since`, say)."""
    return page("badfilter.html", user, status=400, reason=str(problem), back=back)


def refused(request: Request, refusal: Refusal) -> Response:
    if isinstance(refusal, LoginNeeded):
        target = request.url.path if request.method == "GET" else "/console/"
        if request.method == "GET" and request.url.query:
            target += "?" + request.url.query
        return RedirectResponse(login_location(target), status_code=303, headers=HEADERS)
    assert isinstance(refusal, CsrfRefused)
    return page("refused.html", None, status=403, reason=str(refusal))


class ConsoleRoute(APIRoute):
    """An APIRoute whose refusals become pages instead of JSON errors."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def handle(request: Request) -> Response:
            try:
                return await handler(request)
            except Refusal as refusal:
                return refused(request, refusal)

        return handle
