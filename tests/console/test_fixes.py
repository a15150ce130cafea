"""Console fixes: closed items say who closed them and lose the form; calls are counted by
model; the decisions list shows a short excerpt of the stored (redacted) text."""

from __future__ import annotations

import re

import httpx2

from api.console.dashboard import figures
from api.console.views import EXCERPT, excerpt, split_usage
from tests.console.conftest import ADVICE, APP_KEY, SSN, Console, token


def test_a_closed_decision_shows_who_closed_it_and_no_review_form(console: Console) -> None:
    """After reviewer-1 agrees (finance needs one reviewer), the page names them, the time,
    and offers no form; a further review is refused with a 409."""
    decision = console.decide(ADVICE, "finance")
    form = f'action="/console/records/{decision}/reviews"'
    with console.login() as client:
        page = client.get(f"/console/records/{decision}")
        assert form in page.text and 'id="closed"' not in page.text
        answer = client.post(f"/console/records/{decision}/reviews", data={
            "csrf": token(page.text), "verdict": "agree"})
        assert answer.status_code == 200
        closed = re.search(r'<p class="notice" id="closed"[^>]*>(.*?)</p>', answer.text)
        assert closed and "Closed by <strong>reviewer-1</strong> (agree) at 20" in closed.group(1)
        assert form not in answer.text
        late = client.post(f"/console/records/{decision}/reviews", data={
            "csrf": token(answer.text), "verdict": "note", "note": "late"})
    assert late.status_code == 409 and "closed by reviewer-1" in late.text


def test_the_record_page_counts_primary_and_supervisor_calls_apart(console: Console) -> None:
    """A supervision that generated its answer: 1 primary call, 0 supervisor calls (no judge
    is configured), where it used to say "Supervisor calls: 1"."""
    with httpx2.Client(base_url=console.url, timeout=60,
                       headers={"authorization": f"Bearer {APP_KEY}"}) as app:
        answer = app.post("/v1/supervise", json={"prompt": "I have a cold, what helps?",
                                                 "constitution": "healthcare"})
    assert answer.status_code == 200, answer.text
    decision = answer.headers["x-supervisor-record-id"]
    stored = console.service.ledger.get(decision)
    assert stored is not None and stored["body"]["primary_usage"]["calls"] == 1
    with console.login() as client:
        page = client.get(f"/console/records/{decision}").text
    assert re.search(r'<dd id="primary-calls">1</dd>', page)
    assert re.search(r'<dd id="supervisor-calls">0</dd>', page)


def test_the_decisions_list_shows_a_redacted_excerpt(console: Console) -> None:
    """The PHI answer appears in the list as stored: the SSN replaced by <US_SSN>."""
    with console.login() as client:
        listing = client.get("/console/decisions", params={"search": console.phi}).text
    cell = re.search(r'<td class="excerpt">(.*?)</td>', listing, re.S)
    assert cell and "&lt;US_SSN&gt;" in cell.group(1) and SSN not in listing


def test_an_excerpt_is_short_and_absent_without_stored_text() -> None:
    """At most EXCERPT characters on one line, cut at a word; nothing under store_text none."""
    long = "word " * 60
    cut = excerpt({"texts": {"original": long, "prompt": "q"}})
    assert len(cut) <= EXCERPT and cut.endswith("…") and "\n" not in cut
    assert excerpt({"texts": {"original": "Line one\nline two"}}) == "Line one line two"
    assert excerpt({"texts": None, "store_text": "none"}) == ""


def test_usage_is_split_between_primary_and_supervisor() -> None:
    """`usage` holds every call; `primary_usage` is the primary's share; the rest is the
    supervisor's. Older records without it count one primary call from its timing."""
    body = {"usage": {"calls": 3, "input_tokens": 100, "output_tokens": 40, "cost_usd": 0.5},
            "primary_usage": {"calls": 1, "input_tokens": 10, "output_tokens": 30,
                              "cost_usd": 0.2},
            "timings_ms": {"primary": 5.0}}
    split = split_usage(body)
    assert (split.primary.calls, split.supervisor.calls) == (1, 2)
    assert (split.supervisor.input_tokens, split.supervisor.output_tokens) == (90, 10)
    assert round(split.supervisor.cost_usd, 6) == 0.3 and split.exact
    old = split_usage({"usage": {"calls": 3}, "timings_ms": {"primary": 5.0}})
    assert (old.primary.calls, old.supervisor.calls, old.exact) == (1, 2, False)
    checked = split_usage({"usage": {"calls": 2}, "timings_ms": {"judge": 5.0}})
    assert (checked.primary.calls, checked.supervisor.calls) == (0, 2)


def test_the_dashboard_counts_supervisor_and_primary_calls_apart() -> None:
    """Two generated answers, one judged: 2 primary calls, 1 supervisor call, and the cost
    chart is the supervisor's cost only."""
    def record(minute: int, calls: int, cost: float) -> dict[str, object]:
        return {"kind": "decision", "ts": f"2026-11-01T10:{minute:02d}:00Z", "id": f"r{minute}",
                "body": {"action": "allow", "violated": [], "revisions": [],
                         "usage": {"calls": calls, "cost_usd": cost, "input_tokens": 20,
                                   "output_tokens": 10},
                         "primary_usage": {"calls": 1, "cost_usd": 0.01, "input_tokens": 5,
                                           "output_tokens": 5}}}

    found = figures([record(1, 1, 0.01), record(2, 2, 0.03)])
    assert (found.usage.primary.calls, found.usage.supervisor.calls) == (2, 1)
    assert round(found.cost_usd, 6) == 0.02 and round(found.usage.primary.cost_usd, 6) == 0.02
