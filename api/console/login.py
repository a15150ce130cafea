"""Logging in and out of the console, and its stylesheet.

The key is typed into a password field once; the answer sets the session cookie and
forgets the key. Only auditor and admin keys open the console: an app key is told which
role it has and which it needs, as the JSON routes do.
"""

from __future__ import annotations

from typing import Annotated

import structlog
from fastapi import APIRouter, Form, Request, Response
from fastapi.responses import RedirectResponse

from api.access import service_of
from api.console.render import HEADERS, STATIC, ConsoleRoute, page
from api.console.session import (
    COOKIE,
    LOGIN_COOKIE,
    PATH,
    WriterDep,
    sessions_of,
)

log = structlog.get_logger("api.console")
router = APIRouter(prefix=PATH, route_class=ConsoleRoute, include_in_schema=False)


def _next(target: str) -> str:
    """Only a console path is a place to return to (no open redirect to another site)."""
    if target.startswith(PATH + "/") and not target.startswith("//") and "\\" not in target:
        return target
    return PATH + "/"


def _login_page(request: Request, target: str, *, status: int = 200,
                error: str = "") -> Response:
    cookie, token = sessions_of(request).login_nonce()
    response = page("login.html", None, status=status, token=token, next=_next(target),
                    error=error)
    response.set_cookie(LOGIN_COOKIE, cookie, max_age=900, path=PATH, httponly=True,
                        samesite="strict", secure=request.url.scheme == "https")
    return response


@router.get("/login")
async def login_form(request: Request, next: str = PATH + "/") -> Response:
    """The login form: one password field for an auditor or admin key."""
    return _login_page(request, next)


@router.post("/login")
async def login(request: Request, key: Annotated[str, Form()] = "",
                csrf: Annotated[str, Form()] = "",
                next: Annotated[str, Form()] = PATH + "/") -> Response:
    """Check the key; on success set the session cookie and go where the reader was going."""
    sessions = sessions_of(request)
    if not sessions.login_matches(request.cookies.get(LOGIN_COOKIE), csrf):
        return page("refused.html", None, status=403,
                    reason="the login form has expired or came from another page; "
                           "load the login page again")
    caller = service_of(request).keys.identify(key.strip()) if key.strip() else None
    if caller is None:
        return _login_page(request, next, status=401,
                           error="That key is not valid for this service.")
    if not caller.may("auditor"):
        return _login_page(request, next, status=403,
                           error=f"The key {caller.name!r} has the {caller.role} role; the "
                                 "console needs an auditor or admin key.")
    log.info("console_login", actor=caller.name, role=caller.role)
    response = RedirectResponse(_next(next), status_code=303, headers=HEADERS)
    response.set_cookie(COOKIE, sessions.issue(caller), max_age=sessions.max_age, path=PATH,
                        httponly=True, samesite="strict",
                        secure=request.url.scheme == "https")
    response.delete_cookie(LOGIN_COOKIE, path=PATH)
    return response


@router.post("/logout")
async def logout(user: WriterDep) -> Response:
    """End the session in this browser."""
    response = RedirectResponse(PATH + "/login", status_code=303, headers=HEADERS)
    response.delete_cookie(COOKIE, path=PATH, httponly=True, samesite="strict")
    return response


@router.get("/static/console.css")
async def stylesheet() -> Response:
    return Response((STATIC / "console.css").read_bytes(), media_type="text/css",
                    headers={"cache-control": "max-age=3600"})
