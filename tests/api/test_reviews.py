"""Review state: distinct reviewers close an escalation, the same one twice is refused."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from api.reviews import ReviewRefused, add_review, admit, open_escalations, queue_page, state_of
from supervisor.constitution import Constitution, load_constitution
from supervisor.ledger import open_ledger
from supervisor.ledger.quorum import quorums
from supervisor.settings import Settings

FOUR_EYES = Path(__file__).resolve().parent.parent / "console" / "four-eyes.yaml"


@pytest.fixture(scope="module")
def loaded() -> dict[str, Constitution]:
    four_eyes = load_constitution(FOUR_EYES)
    return {"four-eyes": four_eyes, "finance": load_constitution("finance")}


def _decision(record_id: str, action: str = "escalate", constitution: str = "four-eyes"
              ) -> dict[str, Any]:
    return {"kind": "decision", "id": record_id, "ts": "2026-12-01T10:00:00Z",
            "body": {"action": action,
                     "provenance": {"constitution": {"id": constitution}}}}


def _review(decision: str, reviewer: str, verdict: str = "agree", minute: int = 1,
            text_sha256: str | None = None) -> dict[str, Any]:
    return {"kind": "review", "id": f"rev-{reviewer}-{minute}",
            "ts": f"2026-12-01T10:{minute:02d}:00Z",
            "body": {"decision": decision, "reviewer": reviewer, "verdict": verdict,
                     "text_sha256": text_sha256}}


def test_one_agree_closes_an_escalation_needing_one_reviewer(
        loaded: dict[str, Constitution]) -> None:
    """Under finance (reviewers: 1) the first agree closes it, naming who and when."""
    decision = _decision("d1", constitution="finance")
    state = state_of(decision, [decision, _review("d1", "ann")], loaded)
    assert state.closed and state.closed_by == ("ann",)
    assert state.closed_at == "2026-12-01T10:01:00Z" and state.closing == "agree"


def test_two_reviewers_are_needed_under_four_eyes(loaded: dict[str, Constitution]) -> None:
    """One agree is "1 of 2"; a second, different reviewer's agree closes it."""
    decision = _decision("d1")
    first = state_of(decision, [decision, _review("d1", "ann")], loaded)
    assert not first.closed and (first.done, first.required) == (1, 2)
    both = state_of(decision, [decision, _review("d1", "ann"), _review("d1", "bob", minute=2)],
                    loaded)
    assert both.closed and both.closed_by == ("ann", "bob")
    assert both.closed_at == "2026-12-01T10:02:00Z"


def test_the_same_reviewer_twice_does_not_close_and_is_refused(
        loaded: dict[str, Constitution]) -> None:
    """ann agreeing twice counts once, and admit refuses her second closing review."""
    decision = _decision("d1")
    state = state_of(decision, [decision, _review("d1", "ann"), _review("d1", "ann", minute=2)],
                     loaded)
    assert not state.closed and state.done == 1
    with pytest.raises(ReviewRefused, match="ann has already reviewed") as caught:
        admit(state, reviewer="ann", verdict="agree")
    assert caught.value.status == 409
    admit(state, reviewer="ann", verdict="note")  # a note from her is still welcome
    admit(state, reviewer="bob", verdict="agree")


def test_disagreeing_reviewers_leave_it_open(loaded: dict[str, Constitution]) -> None:
    """An agree and an override are two outcomes: neither has two reviewers behind it."""
    decision = _decision("d1")
    records = [decision, _review("d1", "ann"),
               _review("d1", "bob", "override", minute=2, text_sha256="t1")]
    state = state_of(decision, records, loaded)
    assert not state.closed and state.disagree and state.done == 1
    records.append(_review("d1", "cy", minute=3))
    assert state_of(decision, records, loaded).closed_by == ("ann", "cy")


def test_overrides_with_different_texts_do_not_concur(loaded: dict[str, Constitution]) -> None:
    """Two overrides releasing different texts are not the same outcome."""
    decision = _decision("d1")
    records = [decision, _review("d1", "ann", "override", text_sha256="t1"),
               _review("d1", "bob", "override", minute=2, text_sha256="t2")]
    assert not state_of(decision, records, loaded).closed


def test_notes_never_count(loaded: dict[str, Constitution]) -> None:
    """Notes from two people leave the escalation open at 0 of 2."""
    decision = _decision("d1")
    records = [decision, _review("d1", "ann", "note"), _review("d1", "bob", "note", minute=2)]
    state = state_of(decision, records, loaded)
    assert not state.closed and state.done == 0


def test_a_closed_decision_takes_no_more_reviews(loaded: dict[str, Constitution]) -> None:
    """Once closed, any review is refused with who closed it."""
    decision = _decision("d1", constitution="finance")
    state = state_of(decision, [decision, _review("d1", "ann")], loaded)
    with pytest.raises(ReviewRefused, match="closed by ann at 2026-12-01 10:01:00"):
        admit(state, reviewer="bob", verdict="note")


def test_the_queue_lists_open_escalations_with_their_progress(
        loaded: dict[str, Constitution]) -> None:
    """The queue keeps a half-reviewed four-eyes escalation and drops a closed one."""
    half, done = _decision("half"), _decision("done", constitution="finance")
    waiting = open_escalations([(done, [_review("done", "ann")]),
                                (half, [_review("half", "ann")])], loaded)
    assert [(r["id"], s.done, s.required) for r, s in waiting] == [("half", 1, 2)]


def test_an_unloaded_constitution_needs_one_reviewer(loaded: dict[str, Constitution]) -> None:
    """A decision made under a constitution the service no longer loads needs one."""
    decision = _decision("d1", constitution="retired")
    assert state_of(decision, [decision], loaded).required == 1


async def test_the_queue_is_read_a_page_at_a_time(tmp_path: Path,
                                                  loaded: dict[str, Constitution]) -> None:
    """queue_page walks the open escalations newest first, `limit` from the index at a
    time, down by its cursor: the pages together are the whole open queue, in order."""
    target = str(tmp_path / "ledger")
    ledger = await open_ledger(target, settings=Settings(
        ledger=target, checkpoint_every=10**6, checkpoint_seconds=3600))
    ids = [(await ledger.append("decision", {
        "action": "escalate",
        "provenance": {"constitution": {"id": "finance" if i % 2 else "four-eyes"}}})).id
        for i in range(7)]
    # closed: 1 (finance, one agree) and 2 (four-eyes, two); 4 has one of its two
    for record_id, reviewers in ((ids[1], ["ann"]), (ids[2], ["ann", "bob"]),
                                 (ids[4], ["ann"])):
        for reviewer in reviewers:
            decision = ledger.get(record_id)
            assert decision is not None
            await add_review(ledger, decision, verdict="agree", reviewer=reviewer,
                             constitutions=loaded)
    whole = open_escalations(ledger.query.escalations(reviewers=quorums(loaded)), loaded)
    assert [r["id"] for r, _ in whole] == [ids[6], ids[5], ids[4], ids[3], ids[0]]
    walked: list[Any] = []
    before: int | None = None
    while True:
        shown, before = queue_page(ledger.query, loaded, before=before, limit=2)
        assert len(shown) <= 2
        walked += shown
        assert len(walked) <= len(whole)  # a cursor that does not move fails here
        if before is None:
            break
    assert walked == whole
    await ledger.close()
