"""Escalations under `four-eyes` (defaults.reviewers: 2) close only with two different people.

reviewer-1 (auditor key) and ops (admin key) are the two people; the JSON route and the
console apply the same rule, so each is tested end to end.
"""

from __future__ import annotations

import httpx2

from tests.console.conftest import ADMIN_KEY, ADVICE, AUDITOR_KEY, Console, token


def _api(console: Console, key: str) -> httpx2.Client:
    return httpx2.Client(base_url=console.url, timeout=60,
                         headers={"authorization": f"Bearer {key}"})


def _escalated(console: Console) -> str:
    return console.decide(ADVICE, "four-eyes")


def test_two_distinct_reviewers_close_an_escalation_through_the_api(console: Console) -> None:
    """An agree from reviewer-1 leaves it at 1 of 2 in the queue; one from ops closes it."""
    decision = _escalated(console)
    with _api(console, AUDITOR_KEY) as auditor, _api(console, ADMIN_KEY) as admin:
        first = auditor.post(f"/v1/audit/records/{decision}/reviews", json={"verdict": "agree"})
        assert first.status_code == 200, first.text
        assert first.json()["review"]["closes"] is False
        assert first.json()["review"]["reviews_required"] == 2
        queue = auditor.get("/v1/audit/queue").json()
        assert decision in [r["id"] for r in queue["records"]]
        assert queue["review_status"][decision]["done"] == 1
        assert queue["review_status"][decision]["required"] == 2
        second = admin.post(f"/v1/audit/records/{decision}/reviews", json={"verdict": "agree"})
        assert second.status_code == 200, second.text
        assert second.json()["review"]["closes"] is True
        status = auditor.get(f"/v1/audit/records/{decision}").json()["review_status"]
        queue = auditor.get("/v1/audit/queue").json()
    assert status["closed"] and status["closed_by"] == ["reviewer-1", "ops"]
    assert decision not in [r["id"] for r in queue["records"]]


def test_the_same_reviewer_twice_is_refused_by_the_api(console: Console) -> None:
    """reviewer-1's second agree is a 409 saying another person must review; not recorded."""
    decision = _escalated(console)
    with _api(console, AUDITOR_KEY) as auditor:
        assert auditor.post(f"/v1/audit/records/{decision}/reviews",
                            json={"verdict": "agree"}).status_code == 200
        before = console.kinds().count("review")
        again = auditor.post(f"/v1/audit/records/{decision}/reviews", json={"verdict": "agree"})
        queue = auditor.get("/v1/audit/queue").json()
    assert again.status_code == 409
    assert "reviewer-1 has already reviewed" in again.json()["error"]["message"]
    assert console.kinds().count("review") == before
    assert decision in [r["id"] for r in queue["records"]]


def test_two_distinct_reviewers_close_an_escalation_through_the_console(
        console: Console) -> None:
    """The queue says 1 of 2; the same reviewer again is refused; a second person closes it."""
    decision = _escalated(console)
    with console.login(AUDITOR_KEY) as client:
        page = client.get(f"/console/records/{decision}")
        answer = client.post(f"/console/records/{decision}/reviews", data={
            "csrf": token(page.text), "verdict": "agree"})
        assert answer.status_code == 200 and 'id="review-status"' in answer.text
        assert "1 of 2 reviews" in answer.text
        assert "the next agree or override must come from a different reviewer" in answer.text
        queue = client.get("/console/queue").text
        row = queue[queue.index(decision):]
        assert "1 of 2 reviews (reviewer-1)" in row[:row.index("</tr>")]
        again = client.post(f"/console/records/{decision}/reviews", data={
            "csrf": token(answer.text), "verdict": "agree"})
        assert again.status_code == 409 and "reviewer-1 has already reviewed" in again.text
    with console.login(ADMIN_KEY) as client:
        page = client.get(f"/console/records/{decision}")
        closed = client.post(f"/console/records/{decision}/reviews", data={
            "csrf": token(page.text), "verdict": "agree"})
        assert closed.status_code == 200
        assert "Closed by <strong>reviewer-1</strong> and <strong>ops</strong>" in closed.text
        assert f'action="/console/records/{decision}/reviews"' not in closed.text
        assert decision not in client.get("/console/queue").text
