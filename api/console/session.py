"""Console sessions: log in with a key through a form, a signed expiring cookie, CSRF.

The browser never holds the API key after login: the cookie carries only the key's name
and role, a random session id and the session's CSRF token, signed with a secret kept
owner-only in the signing-key directory (so every worker of `supervisor serve` accepts
the same cookies, and a restart does not log everyone out). The cookie is HttpOnly,
SameSite=Strict and scoped to /console; it expires after `SESSION_SECONDS` whatever the
browser does, and at once when its reviewer logs out: logging out revokes the session
on the server (`revocation`, beside the secret, so every worker refuses it too), and a
kept copy of the cookie then opens nothing. Every form that changes something carries
the CSRF token and is refused (403) without it; the login form itself is bound to a
pre-login cookie the same way, so another site cannot log a browser in under its own key.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote

import structlog
from fastapi import Depends, Form, Request
from itsdangerous import BadSignature, URLSafeSerializer

from api.access import service_of
from api.console.revocation import REVOKED_FILE, Revocations
from api.console.throttle import Throttle
from api.keys import Caller
from api.service import Service

log = structlog.get_logger("api.console")
COOKIE = "console_session"
LOGIN_COOKIE = "console_login"
PATH = "/console"
SESSION_SECONDS = 8 * 3600
SECRET_FILE = "console-secret"


class Refusal(Exception):
    """A console request that gets a page instead of its answer (rendered by the route)."""


class LoginNeeded(Refusal):
    """No valid session: the browser is sent to the login page."""


class CsrfRefused(Refusal):
    """A state-changing form without this session's CSRF token."""


@dataclass(frozen=True, slots=True)
class Reader:
    """Who is signed in to the console: the key's name and role, and the session's token.

    `session` is the random id the cookie carries and `expires` its end (epoch seconds);
    `reference` is what the ledger and the revocation list hold instead of the id.
    """

    name: str
    role: str
    csrf: str
    session: str = ""
    expires: float = 0.0

    @property
    def reference(self) -> str:
        return session_reference(self.session)


def session_reference(session: str) -> str:
    """A session's name in records: the first 16 hex digits of its id's sha256."""
    return hashlib.sha256(session.encode()).hexdigest()[:16]


class Sessions:
    """Issues, reads and revokes the signed session cookie.

    Without `revocations` (unit tests of the cookie alone) nothing can be revoked.
    """

    def __init__(self, secret: bytes, *, max_age: int = SESSION_SECONDS,
                 revocations: Revocations | None = None) -> None:
        self._serializer = URLSafeSerializer(secret, salt="console-session")
        self._login = URLSafeSerializer(secret, salt="console-login")
        self.max_age = max_age
        self.revocations = revocations

    def issue(self, caller: Caller, *, now: float | None = None) -> str:
        """A cookie value for `caller`, valid for `max_age` seconds from `now`."""
        issued = time.time() if now is None else now
        return self._serializer.dumps({"n": caller.name, "r": caller.role,
                                       "c": secrets.token_urlsafe(24),
                                       "i": secrets.token_urlsafe(18),
                                       "x": int(issued + self.max_age)})

    def read(self, value: str | None, *, now: float | None = None) -> Reader | None:
        """The session in a cookie value, or None if absent, forged, expired, revoked or not
        a reviewer's."""
        if not value:
            return None
        try:
            data: Any = self._serializer.loads(value)
        except BadSignature:
            return None
        if not isinstance(data, dict) or not {"n", "r", "c", "i", "x"} <= set(data):
            return None  # a cookie without a session id could never be revoked
        expired = int(data["x"]) <= (time.time() if now is None else now)
        if expired or data["r"] not in ("auditor", "admin"):
            return None
        found = Reader(str(data["n"]), str(data["r"]), str(data["c"]), str(data["i"]),
                       float(data["x"]))
        try:
            revoked = self.revocations is not None and found.reference in self.revocations
        except OSError as exc:  # cannot tell whether it was revoked: refuse (fail closed)
            log.error("console_revocations_unreadable", error=str(exc))
            return None
        return None if revoked else found

    def revoke(self, user: Reader) -> None:
        """End `user`'s session on the server: its cookie is refused from now on."""
        if self.revocations is None:
            raise RuntimeError("these Sessions keep no revocation list")
        self.revocations.revoke(user.reference, until=user.expires)

    def login_nonce(self) -> tuple[str, str]:
        """(cookie value, form token) binding a login form to the browser that loaded it."""
        nonce = secrets.token_urlsafe(24)
        return self._login.dumps(nonce), nonce

    def login_matches(self, cookie: str | None, token: str) -> bool:
        if not cookie or not token:
            return False
        try:
            nonce = self._login.loads(cookie)
        except BadSignature:
            return False
        return isinstance(nonce, str) and hmac.compare_digest(nonce, token)


def secret_for(folder: Path) -> bytes:
    """The console's signing secret in `folder`, created owner-only on first use.

    Written to a temporary file and linked into place, so concurrent workers starting
    together agree on one secret and none reads a half-written file.
    """
    path = folder / SECRET_FILE
    if not path.exists():
        folder.mkdir(parents=True, exist_ok=True)
        fd, temporary = tempfile.mkstemp(dir=folder, prefix=".console-secret-")
        try:
            os.write(fd, secrets.token_hex(32).encode())
            os.close(fd)
            os.link(temporary, path)
        except FileExistsError:
            pass
        finally:
            os.unlink(temporary)
    return path.read_bytes().strip()


def sessions_of(request: Request) -> Sessions:
    """The app's Sessions, made once from the service's key directory (secret and
    revocation list both live there)."""
    state = request.app.state
    found: Sessions | None = getattr(state, "console_sessions", None)
    if found is None:
        service: Service = service_of(request)
        folder = service.settings.signing_key_dir
        found = Sessions(secret_for(folder), revocations=Revocations(folder / REVOKED_FILE))
        state.console_sessions = found
    return found


def throttle_of(request: Request) -> Throttle:
    """The app's count of failed logins per address, made once."""
    state = request.app.state
    found: Throttle | None = getattr(state, "console_throttle", None)
    if found is None:
        found = Throttle()
        state.console_throttle = found
    return found


async def reader(request: Request) -> Reader:
    """The signed-in reviewer, or LoginNeeded (the page then shows the login form)."""
    found = sessions_of(request).read(request.cookies.get(COOKIE))
    if found is None:
        raise LoginNeeded(request.url.path)
    return found


async def writer(request: Request, user: Annotated[Reader, Depends(reader)],
                 csrf: Annotated[str, Form()] = "") -> Reader:
    """The reviewer, for a form that changes something: the CSRF token must match."""
    if not csrf or not hmac.compare_digest(csrf, user.csrf):
        raise CsrfRefused("the form did not carry this session's CSRF token")
    return user


def login_location(path: str) -> str:
    return f"{PATH}/login?next={quote(path, safe='/')}"


ReaderDep = Annotated[Reader, Depends(reader)]
WriterDep = Annotated[Reader, Depends(writer)]
