"""Reviews through the console: new linked records signed with the reviewer's key name."""

from __future__ import annotations

import httpx2

from tests.console.conftest import ADVICE, APP_KEY, Console, token


def _escalate(console: Console) -> str:
    with httpx2.Client(base_url=console.url, timeout=60,
                       headers={"authorization": f"Bearer {APP_KEY}"}) as app:
        answer = app.post("/v1/supervise", json={"output": ADVICE, "constitution": "finance"})
    assert answer.headers["x-supervisor-action"] == "escalate"
    return answer.headers["x-supervisor-record-id"]


def test_an_override_is_a_new_record_and_closes_the_escalation(console: Console) -> None:
    decision = _escalate(console)
    before = console.service.ledger.get(decision)
    with console.login() as client:
        queue = client.get("/console/queue").text
        assert decision in queue
        page = client.get(f"/console/records/{decision}")
        answer = client.post(f"/console/records/{decision}/reviews", data={
            "csrf": token(page.text), "verdict": "override", "note": "too specific",
            "text": "Please speak to a licensed adviser about your savings."})
        assert answer.url.path == f"/console/records/{decision}"
        assert "override</strong> by <strong>reviewer-1" in answer.text
        assert "Please speak to a licensed adviser about your savings." in answer.text
        assert decision not in client.get("/console/queue").text
    review = next(r for r in console.service.ledger.records_in_order()
                  if r["kind"] == "review" and r["body"]["decision"] == decision)
    assert review["body"]["reviewer"] == "reviewer-1"
    assert before is not None and review["body"]["decision_hash"] == before["hash"]
    assert console.service.ledger.get(decision) == before  # never edited in place


def test_a_note_keeps_the_escalation_open(console: Console) -> None:
    decision = _escalate(console)
    with console.login() as client:
        page = client.get(f"/console/records/{decision}")
        answer = client.post(f"/console/records/{decision}/reviews", data={
            "csrf": token(page.text), "verdict": "note", "note": "asked the advisor"})
        assert answer.status_code == 200, answer.text
        assert decision in client.get("/console/queue").text
    assert any(r["kind"] == "review" and r["body"]["decision"] == decision
               and r["body"]["verdict"] == "note"
               for r in console.service.ledger.records_in_order())


def test_an_override_without_text_is_refused_and_not_recorded(console: Console) -> None:
    decision = _escalate(console)
    with console.login() as client:
        page = client.get(f"/console/records/{decision}")
        before = console.kinds().count("review")
        answer = client.post(f"/console/records/{decision}/reviews", data={
            "csrf": token(page.text), "verdict": "override", "text": "  "})
    assert answer.status_code == 400
    assert "an override needs the text to release" in answer.text
    assert console.kinds().count("review") == before
