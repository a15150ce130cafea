"""Sessions: who may open the console, for how long, and which forms are refused."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx2
import pytest

from api.console.revocation import COMPACT_AFTER, REVOKED_FILE, Revocations
from api.console.session import COOKIE, SESSION_SECONDS, Reader, Sessions, secret_for
from api.console.throttle import LIMIT, WINDOW_SECONDS, Throttle
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


def _access(console: Console) -> list[dict[str, Any]]:
    return [r["body"] for r in console.service.ledger.records_in_order()
            if r["kind"] == "access"]


def test_a_logged_out_cookie_is_refused_for_pages_and_reviews(console: Console) -> None:
    """A copy of the cookie kept past logout opens no page and posts no review."""
    with console.login() as client:
        kept = client.cookies[COOKIE]
        csrf = token(client.get("/console/queue").text)
        assert client.post("/console/logout", data={"csrf": csrf}).url.path == "/console/login"
    reviews = console.kinds().count("review")
    with _with_cookie(console, kept) as thief:
        page = thief.get(f"/console/records/{console.escalated}")
        assert page.url.path == "/console/login" and 'type="password"' in page.text
        post = thief.post(f"/console/records/{console.escalated}/reviews",
                          data={"verdict": "agree", "csrf": csrf}, follow_redirects=False)
        assert post.status_code == 303 and post.headers["location"].startswith(
            "/console/login")
    assert console.kinds().count("review") == reviews


LOGOUT = """
import sys
from pathlib import Path
from api.console.revocation import REVOKED_FILE, Revocations
from api.console.session import Sessions, secret_for
folder = Path(sys.argv[1])
sessions = Sessions(secret_for(folder), revocations=Revocations(folder / REVOKED_FILE))
sessions.revoke(sessions.read(sys.argv[2]))
"""


def test_a_revocation_reaches_every_process_sharing_the_key_folder(tmp_path: Path) -> None:
    """A logout handled by another process (a second worker) is refused here at once, by a
    worker that had already read the list, and by one started afterwards."""
    secret = secret_for(tmp_path)

    def worker() -> Sessions:
        return Sessions(secret, revocations=Revocations(tmp_path / REVOKED_FILE))

    first, second = worker(), worker()
    value = first.issue(Caller("reviewer-1", "auditor"))
    other = first.issue(Caller("reviewer-1", "auditor"))
    first.revoke(first.read(first.issue(Caller("ops", "admin"))))  # a list already read
    assert second.read(value) is not None and second.read(other) is not None
    subprocess.run([sys.executable, "-c", LOGOUT, str(tmp_path), value], check=True,
                   cwd=Path(__file__).resolve().parents[2], timeout=120)
    assert second.read(value) is None and first.read(value) is None
    assert worker().read(value) is None
    assert second.read(other) is not None  # only that session ended
    assert (tmp_path / REVOKED_FILE).stat().st_mode & 0o077 == 0


def test_an_unreadable_revocation_list_refuses_every_session(tmp_path: Path) -> None:
    """When the server cannot tell whether a session was revoked, it is refused."""
    (tmp_path / REVOKED_FILE).mkdir()  # unreadable as a list (and unwritable)
    sessions = Sessions(b"s" * 32, revocations=Revocations(tmp_path / REVOKED_FILE))
    value = sessions.issue(Caller("reviewer-1", "auditor"))
    assert sessions.read(value) is None
    assert Sessions(b"s" * 32).read(value) is not None  # the cookie itself is fine
    with pytest.raises(OSError):
        sessions.revoke(Reader("reviewer-1", "auditor", "c", "id", time.time() + 60))


def test_expired_revocations_are_dropped_when_the_file_grows(tmp_path: Path) -> None:
    """Entries outlive their cookies only until the file is rewritten; live ones stay."""
    now = [1000.0]
    revoked = Revocations(tmp_path / REVOKED_FILE, clock=lambda: now[0])
    revoked.revoke("live", until=10_000)
    for i in range(COMPACT_AFTER + 1):
        revoked.revoke(f"old-{i}", until=1001)
    now[0] = 2000.0
    revoked.revoke("new", until=10_000)
    lines = (tmp_path / REVOKED_FILE).read_text().splitlines()
    assert sorted(lines) == ["live 10000", "new 10000"]
    assert "live" in Revocations(tmp_path / REVOKED_FILE)


def test_logins_and_logouts_are_recorded_with_the_session_reference(
        console: Console) -> None:
    """The ledger says who logged in, from where, and when that session ended."""
    before = len(_access(console))
    with console.login() as client:
        session = _sessions(console).read(client.cookies[COOKIE])
        client.post("/console/logout", data={"csrf": token(client.get("/console/").text)})
    assert session is not None
    mine = [b for b in _access(console)[before:] if b.get("session") == session.reference]
    assert [b["what"] for b in mine] == ["login", "logout"]
    assert mine[0]["actor"] == "reviewer-1" and mine[0]["address"] == "127.0.0.1"
    assert session.session not in str(_access(console))  # the id itself is not stored


def test_failed_logins_are_throttled_per_address_then_the_window_passes() -> None:
    """After `limit` failures an address waits, whatever it tries; others are unaffected."""
    now = [0.0]
    throttle = Throttle(limit=3, window=60, clock=lambda: now[0])
    assert [throttle.failed("10.0.0.1") for _ in range(3)] == [False, False, True]
    assert throttle.retry_after("10.0.0.1") == 60 and throttle.retry_after("10.0.0.2") == 0
    now[0] = 59.5
    assert throttle.retry_after("10.0.0.1") == 1
    now[0] = 60.0
    assert throttle.retry_after("10.0.0.1") == 0
    throttle.failed("10.0.0.1")  # the window slides: two failures are still in it
    assert throttle.retry_after("10.0.0.1") == 0
    throttle.succeeded("10.0.0.1")
    assert [throttle.failed("10.0.0.1") for _ in range(3)] == [False, False, True]


def test_wrong_keys_are_recorded_and_then_even_the_right_key_waits(console: Console) -> None:
    """Every failure is an access record (no key stored); past the limit the right key gets
    429 with Retry-After and no session. From its own address: others are unaffected."""
    transport = httpx2.HTTPTransport(local_address="127.0.0.2")
    before = len(_access(console))
    wrong = "wrong-key-0123456789-guess"
    with httpx2.Client(base_url=console.url, transport=transport, timeout=60) as client:
        for attempt in range(LIMIT):
            form = client.get("/console/login")
            answer = client.post("/console/login", data={"key": f"{wrong}{attempt}",
                                                         "csrf": token(form.text)})
            assert answer.status_code == 401, attempt
        form = client.get("/console/login")
        answer = client.post("/console/login", data={"key": AUDITOR_KEY,
                                                     "csrf": token(form.text)})
        assert answer.status_code == 429 and 'type="password"' in answer.text
        assert 0 < int(answer.headers["retry-after"]) <= WINDOW_SECONDS
        assert "Too many failed logins" in answer.text and COOKIE not in client.cookies
    failed = [b for b in _access(console)[before:] if b["what"] == "login_failed"]
    assert len(failed) == LIMIT and {b["address"] for b in failed} == {"127.0.0.2"}
    assert [b["throttled"] for b in failed] == [False] * (LIMIT - 1) + [True]
    assert all(len(b["key_sha256"]) == 8 for b in failed)
    assert wrong not in str(_access(console))
    with console.login():  # 127.0.0.1 still logs in
        pass
