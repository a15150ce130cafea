"""Sessions: who may open the console, for how long, and which forms are refused."""

from __future__ import annotations

import time
from pathlib import Path

import httpx2

from api.console.session import COOKIE, SESSION_SECONDS, Sessions, secret_for
from api.keys import Caller
from tests.console.conftest import ADMIN_KEY, APP_KEY, AUDITOR_KEY, Console, token


def _sessions(console: Console) -> Sessions:
    return Sessions(secret_for(console.service.settings.signing_key_dir))


def _with_cookie(console: Console, value: str) -> httpx2.Client:
    client = console.client()
    client.cookies.set(COOKIE, value, domain="127.0.0.1", path="/console")
    return client


def test_a_session_reads_back_as_issued() -> None:
    """The cookie carries the key's name and role, never the key."""
    sessions = Sessions(b"s" * 32)
    value = sessions.issue(Caller("reviewer-1", "auditor"))
    found = sessions.read(value)
    assert found is not None and (found.name, found.role) == ("reviewer-1", "auditor")
    assert AUDITOR_KEY not in value


def test_an_expired_session_is_refused() -> None:
    sessions = Sessions(b"s" * 32, max_age=60)
    value = sessions.issue(Caller("reviewer-1", "auditor"), now=time.time() - 61)
    assert sessions.read(value) is None
    assert sessions.read(value, now=time.time() - 30) is not None


def test_a_cookie_signed_with_another_secret_is_refused() -> None:
    value = Sessions(b"x" * 32).issue(Caller("reviewer-1", "admin"))
    assert Sessions(b"s" * 32).read(value) is None
    assert Sessions(b"s" * 32).read(value[:-2] + "AA") is None


def test_an_app_role_session_is_refused_even_if_signed() -> None:
    sessions = Sessions(b"s" * 32)
    assert sessions.read(sessions.issue(Caller("clinic-app", "app"))) is None


def test_the_secret_is_kept_owner_only_and_reused(tmp_path: Path) -> None:
    first = secret_for(tmp_path)
    assert secret_for(tmp_path) == first and len(first) == 64
    assert (tmp_path / "console-secret").stat().st_mode & 0o077 == 0


def test_without_a_session_every_page_shows_the_login_form(console: Console) -> None:
    with console.client() as client:
        for path in ("/console/", "/console/decisions?action=escalate", "/console/queue",
                     "/console/dashboard", "/console/export",
                     f"/console/records/{console.phi}"):
            answer = client.get(path)
            assert answer.status_code == 200 and 'type="password"' in answer.text, path
            assert answer.url.path == "/console/login"
            assert "Patient" not in answer.text


def test_the_login_page_returns_the_reader_where_they_were_going(console: Console) -> None:
    with console.client() as client:
        form = client.get("/console/decisions?action=escalate")
        assert 'value="/console/decisions?action=escalate"' in form.text
        answer = client.post("/console/login", data={
            "key": AUDITOR_KEY, "csrf": token(form.text),
            "next": "/console/decisions?action=escalate"})
        assert answer.url.path == "/console/decisions"
        assert answer.url.params["action"] == "escalate"


def test_login_refuses_an_offsite_next(console: Console) -> None:
    with console.client() as client:
        form = client.get("/console/login")
        answer = client.post("/console/login", data={
            "key": AUDITOR_KEY, "csrf": token(form.text), "next": "//evil.example/x"},
            follow_redirects=False)
        assert answer.headers["location"] == "/console/"


def test_the_session_cookie_is_httponly_strict_and_scoped(console: Console) -> None:
    with console.client() as client:
        form = client.get("/console/login")
        answer = client.post("/console/login", data={"key": ADMIN_KEY,
                                                     "csrf": token(form.text)},
                             follow_redirects=False)
        cookie = next(v for k, v in answer.headers.multi_items()
                      if k == "set-cookie" and v.startswith(COOKIE + "="))
        for part in ("HttpOnly", "SameSite=strict", "Path=/console",
                     f"Max-Age={SESSION_SECONDS}"):
            assert part.lower() in cookie.lower(), cookie


def test_an_app_key_cannot_log_in(console: Console) -> None:
    with console.client() as client:
        form = client.get("/console/login")
        answer = client.post("/console/login", data={"key": APP_KEY,
                                                     "csrf": token(form.text)})
        assert answer.status_code == 403
        assert "has the app role" in answer.text
        assert COOKIE not in client.cookies


def test_a_wrong_key_cannot_log_in(console: Console) -> None:
    with console.client() as client:
        form = client.get("/console/login")
        answer = client.post("/console/login", data={"key": "not-a-key-0123456789",
                                                     "csrf": token(form.text)})
        assert answer.status_code == 401 and COOKIE not in client.cookies


def test_a_login_post_without_its_form_token_is_refused(console: Console) -> None:
    with console.client() as client:
        client.get("/console/login")
        answer = client.post("/console/login", data={"key": AUDITOR_KEY})
        assert answer.status_code == 403 and COOKIE not in client.cookies


def test_forged_and_expired_cookies_get_the_login_page(console: Console) -> None:
    expired = _sessions(console).issue(Caller("reviewer-1", "auditor"),
                                       now=time.time() - SESSION_SECONDS - 1)
    forged = Sessions(b"f" * 64).issue(Caller("reviewer-1", "auditor"))
    good = _sessions(console).issue(Caller("reviewer-1", "auditor"))
    for value, admitted in ((expired, False), (forged, False), (good, True)):
        with _with_cookie(console, value) as client:
            answer = client.get("/console/queue")
            assert (answer.url.path == "/console/queue") is admitted
            assert ('type="password"' in answer.text) is not admitted


def test_a_form_post_without_the_csrf_token_is_refused(console: Console) -> None:
    """A review without the token is a 403 page, and nothing is appended."""
    with console.login() as client:
        before = console.kinds()
        for data in ({"verdict": "agree"}, {"verdict": "agree", "csrf": "wrong"}):
            answer = client.post(f"/console/records/{console.escalated}/reviews", data=data)
            assert answer.status_code == 403 and "CSRF" in answer.text
        assert client.post(f"/console/records/{console.phi}/proof").status_code == 403
        assert client.post("/console/export", data={}).status_code == 403
        assert client.post("/console/logout").status_code == 403
        assert console.kinds() == before


def test_logging_out_ends_the_session(console: Console) -> None:
    with console.login() as client:
        page = client.get("/console/queue")
        answer = client.post("/console/logout", data={"csrf": token(page.text)})
        assert answer.url.path == "/console/login"
        assert 'type="password"' in client.get("/console/queue").text
