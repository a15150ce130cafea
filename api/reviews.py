"""Reviews of a decision: how many people must agree, whether it is closed, adding one.

A review is `agree`, `override` (with the text to release) or `note`. Agree and
override close a decision once enough DISTINCT reviewers have given the same outcome
(the same verdict, and for an override the same released text): one for any decision,
`defaults.reviewers` of the decision's constitution for an escalation (four eyes: 2).
Reviewers who disagree leave it open for someone else to settle. A note never closes.

`add_review` is the one way in, for the JSON route and the console alike: it refuses a
review of a closed decision and a second closing review by the same person, and writes
into the review record how many reviews the decision needed and whether this one closed
it, so the ledger alone says when and by whom a decision was closed.
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from supervisor.constitution import Constitution
from supervisor.ledger import Ledger
from supervisor.ledger.core import Receipt
from supervisor.ledger.export import Filter
from supervisor.ledger.index import Query
from supervisor.ledger.quorum import (
    CLOSING,  # the verdicts that close; the index's too
    quorums,
)
from supervisor.ledger.records import review_body


class ReviewRefused(ValueError):
    """A review that cannot be recorded; `status` is 400 (malformed) or 409 (conflict)."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True, slots=True)
class ReviewState:
    """Where one decision stands: its reviews, how many people it needs, who closed it."""

    required: int
    reviews: tuple[dict[str, Any], ...]
    done: int  # distinct reviewers behind the leading outcome
    disagree: bool  # reviewers gave different outcomes
    closed_by: tuple[str, ...] = ()
    closed_at: str = ""
    closing: str = ""  # the verdict that closed it

    @property
    def closed(self) -> bool:
        return bool(self.closed_by)

    @property
    def reviewers(self) -> tuple[str, ...]:
        """Who gave a closing verdict so far, in order."""
        return tuple(dict.fromkeys(str(r["body"].get("reviewer")) for r in self.reviews
                                   if r["body"].get("verdict") in CLOSING))


def required_reviewers(decision: Mapping[str, Any],
                       constitutions: Mapping[str, Constitution]) -> int:
    """1, or for an escalation its constitution's `defaults.reviewers` (1 if not loaded)."""
    body = decision.get("body") or {}
    if body.get("action") != "escalate":
        return 1
    stamp = (body.get("provenance") or {}).get("constitution") or {}
    loaded = constitutions.get(str(stamp.get("id", "")))
    return loaded.defaults.reviewers if loaded is not None else 1


def state_of(decision: Mapping[str, Any], records: list[dict[str, Any]],
             constitutions: Mapping[str, Constitution]) -> ReviewState:
    """The decision's review state from the review records linked to it (oldest first)."""
    required = required_reviewers(decision, constitutions)
    linked = tuple(r for r in records if r["kind"] == "review"
                   and (r.get("body") or {}).get("decision") == decision["id"])
    backers: dict[tuple[str, str], list[str]] = {}
    for review in linked:
        body = review["body"]
        if body.get("verdict") not in CLOSING:
            continue
        outcome = (str(body["verdict"]), str(body.get("text_sha256") or ""))
        people = backers.setdefault(outcome, [])
        if body.get("reviewer") not in people:
            people.append(str(body.get("reviewer")))
        if len(people) >= required:
            return ReviewState(required, linked, len(people), len(backers) > 1,
                               tuple(people), str(review["ts"]), outcome[0])
    done = max((len(p) for p in backers.values()), default=0)
    return ReviewState(required, linked, done, len(backers) > 1)


def open_escalations(escalated: list[tuple[dict[str, Any], list[dict[str, Any]]]],
                     constitutions: Mapping[str, Constitution]
                     ) -> list[tuple[dict[str, Any], ReviewState]]:
    """Of escalated decisions with their reviews (`Query.escalations`, newest first), those
    not yet closed, each with its review state."""
    waiting = []
    for record, reviews in escalated:
        state = state_of(record, reviews, constitutions)
        if not state.closed:
            waiting.append((record, state))
    return waiting


QUEUE_PAGE = 50  # escalations the index is asked for per page of the queue


def queue_page(query: Query, constitutions: Mapping[str, Constitution],
               keep: Filter | None = None, *, before: int | None = None,
               limit: int = QUEUE_PAGE) -> tuple[list[tuple[dict[str, Any], ReviewState]],
                                                 int | None]:
    """One page of the review queue, newest first: the open ones of the next `limit`
    escalations the index returns below seq `before`, and the cursor of the next page
    (None after the last). The cursor is the last seq the index returned, not the last
    shown: `state_of` may leave some of a page out, so a page can show fewer."""
    escalated = query.escalations(keep, reviewers=quorums(constitutions), before=before,
                                  limit=limit)
    following = escalated[-1][0]["seq"] if len(escalated) == limit else None
    return open_escalations(escalated, constitutions), following


def admit(state: ReviewState, *, reviewer: str, verdict: str) -> None:
    """Raise ReviewRefused (409) when this review may not be added to the decision."""
    if state.closed:
        raise ReviewRefused(
            f"the decision was closed by {' and '.join(state.closed_by)} at "
            f"{state.closed_at[:19].replace('T', ' ')} UTC; a closed decision takes no "
            "more reviews", 409)
    if verdict in CLOSING and reviewer in state.reviewers:
        raise ReviewRefused(
            f"{reviewer} has already reviewed this decision; it needs {state.required} "
            f"different reviewers, so the next agree or override must come from someone "
            "else (a note is still welcome)", 409)


_locks: weakref.WeakKeyDictionary[Ledger, asyncio.Lock] = weakref.WeakKeyDictionary()


async def add_review(ledger: Ledger, decision: dict[str, Any], *, verdict: str,
                     reviewer: str, note: str = "", text: str | None = None,
                     constitutions: Mapping[str, Constitution]) -> tuple[Receipt,
                                                                          dict[str, Any]]:
    """Check, build and append one review record; (its receipt, its body).

    Reads and appends under one lock per ledger, so two reviews of one decision sent at
    once cannot both be counted as its closing review.
    """
    lock = _locks.setdefault(ledger, asyncio.Lock())
    async with lock:
        try:
            content = await asyncio.to_thread(review_body, decision, verdict=verdict,
                                              reviewer=reviewer, note=note, text=text)
        except ValueError as exc:
            raise ReviewRefused(str(exc)) from None
        stored = await asyncio.to_thread(ledger.query.reviews_of, decision["id"])
        before = state_of(decision, stored, constitutions)
        admit(before, reviewer=reviewer, verdict=verdict)
        content["reviews_required"] = before.required
        if verdict in CLOSING:
            after = state_of(decision, [*stored, {"kind": "review", "id": "", "ts": "",
                                                  "body": content}], constitutions)
            content["closes"] = after.closed
        else:
            content["closes"] = False
        receipt = await ledger.append("review", content)
    return receipt, content
