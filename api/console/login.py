"""Logging in and out of the console, and its stylesheet.

The key is typed into a password field once; the answer sets the session cookie and
forgets the key. Only auditor and admin keys open the console: an app key is told which
role it has and which it needs, as the JSON routes do.

Every login, failed login and logout is an `access` record (`what: login`,
`login_failed`, `logout`) with the client's address and the session's reference; a
failed one holds at most the first 8 hex digits of the tried key's sha256, never the
key. Too many failures from one address within a window (`throttle`) get 429 with
Retry-After, even for the right key. Logging out revokes the session on the server.
"""

from __future__ import annotations

import hashlib
from typing import Annotated

import structlog
from fastapi import APIRouter, Form, Request, Response
from fastapi.responses import RedirectResponse

from api.access import ServiceDep
from api.console.render import HEADERS, STATIC, ConsoleRoute, page
from api.console.session import (
    COOKIE,
    LOGIN_COOKIE,
    PATH,
    WriterDep,
    sessions_of,
    throttle_of,
)
from api.keys import Caller
from api.service import Service

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


def _address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


@router.post("/login")
async def login(request: Request, service: ServiceDep, key: Annotated[str, Form()] = "",
                csrf: Annotated[str, Form()] = "",
                next: Annotated[str, Form()] = PATH + "/") -> Response:
    """Check the key; on success set the session cookie and go where the reader was going."""
    sessions, throttle, address = sessions_of(request), throttle_of(request), _address(request)
    if not sessions.login_matches(request.cookies.get(LOGIN_COOKIE), csrf):
        return page("refused.html", None, status=403,
                    reason="the login form has expired or came from another page; "
                           "load the login page again")
    wait = throttle.retry_after(address)
    if wait:
        response = _login_page(request, next, status=429,
                               error=f"Too many failed logins from this address; try again "
                                     f"in {wait} seconds.")
        response.headers["retry-after"] = str(wait)
        return response
    caller = service.keys.identify(key.strip()) if key.strip() else None
    if caller is None or not caller.may("auditor"):
        await _failed(service, throttle.failed(address), address, key.strip(), caller)
        if caller is None:
            return _login_page(request, next, status=401,
                               error="That key is not valid for this service.")
        return _login_page(request, next, status=403,
                           error=f"The key {caller.name!r} has the {caller.role} role; the "
                                 "console needs an auditor or admin key.")
    throttle.succeeded(address)
    value = sessions.issue(caller)
    session = sessions.read(value)
    if session is None:  # only an unreadable revocation list refuses a cookie just issued
        return page("refused.html", None, status=503,
                    reason="sessions cannot be checked now (the list of ended sessions in "
                           "the key folder is unreadable); ask an admin to check it")
    await service.ledger.append("access", {
        "actor": caller.name, "what": "login", "session": session.reference,
        "address": address, "via": "console"})
    log.info("console_login", actor=caller.name, role=caller.role)
    response = RedirectResponse(_next(next), status_code=303, headers=HEADERS)
    response.set_cookie(COOKIE, value, max_age=sessions.max_age, path=PATH,
                        httponly=True, samesite="strict",
                        secure=request.url.scheme == "https")
    response.delete_cookie(LOGIN_COOKIE, path=PATH)
    return response


async def _failed(service: Service, closed: bool, address: str, key: str,
                  caller: Caller | None) -> None:
    """Record a failed login: who (when the key is known), from where, never the key."""
    body = {"actor": caller.name if caller else None, "what": "login_failed",
            "reason": "wrong role" if caller else ("no key" if not key else "unknown key"),
            "key_sha256": hashlib.sha256(key.encode()).hexdigest()[:8] if key else None,
            "address": address, "throttled": closed, "via": "console"}
    log.warning("console_login_failed", address=address, reason=body["reason"])
    await service.ledger.append("access", {k: v for k, v in body.items() if v is not None})


@router.post("/logout")
async def logout(service: ServiceDep, user: WriterDep, request: Request) -> Response:
    """End the session: revoked on the server (every worker refuses its cookie), recorded,
    and the cookie deleted in this browser."""
    try:
        sessions_of(request).revoke(user)
    except OSError as exc:  # the cookie would still work elsewhere: say so, keep it
        log.error("console_logout_failed", actor=user.name, error=str(exc))
        return page("refused.html", user, status=503,
                    reason=f"the session could not be ended on the server ({exc}); it "
                           "stays valid until it expires. Ask an admin to check the "
                           "key folder's permissions and space, then log out again")
    await service.ledger.append("access", {"actor": user.name, "what": "logout",
                                           "session": user.reference, "via": "console"})
    response = RedirectResponse(PATH + "/login", status_code=303, headers=HEADERS)
    response.delete_cookie(COOKIE, path=PATH, httponly=True, samesite="strict")
    return response


@router.get("/static/console.css")
async def stylesheet() -> Response:
    return Response((STATIC / "console.css").read_bytes(), media_type="text/css",
                    headers={"cache-control": "max-age=3600"})
