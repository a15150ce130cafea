"""Which escalations are still open, as far as the index can tell: the queue's pre-filter.

An escalated decision is closed once enough distinct reviewers back one outcome: the
same closing verdict (`agree` or `override`) and, for an override, the same released
text (`api.reviews.state_of`, the arbiter). How many is enough is each constitution's
`defaults.reviewers`, which the ledger does not hold, so the queue passes it in by
constitution id. The index keeps, per escalation, the largest number of distinct
reviewers behind one outcome (`backers`), so SQL skips the closed ones and the queue
reads only the open ones.

The index never calls a decision closed that `state_of` calls open: it looks the
constitution up by the same key (`under`) and compares reviewers as text, which can only
count fewer of them. `state_of` still decides on what is returned.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Protocol

CLOSING = ("agree", "override")  # the verdicts that close (api.reviews reads this one)


def backing(body: Mapping[str, Any]) -> tuple[str, str, str] | None:
    """(verdict, released text's sha256 or "", reviewer) of a closing review's body;
    None for a note or anything else that closes nothing."""
    verdict = body.get("verdict")
    if verdict not in CLOSING:
        return None
    return str(verdict), str(body.get("text_sha256") or ""), str(body.get("reviewer"))


def backers(bodies: Iterable[Mapping[str, Any]]) -> int:
    """The most distinct reviewers behind one outcome among review bodies."""
    people: dict[tuple[str, str], set[str]] = {}
    for body in bodies:
        found = backing(body)
        if found is not None:
            people.setdefault(found[:2], set()).add(found[2])
    return max((len(p) for p in people.values()), default=0)


class Quorum(Protocol):
    """What `quorums` reads of a constitution: its `defaults.reviewers`."""

    @property
    def defaults(self) -> Any: ...


def quorums(constitutions: Mapping[str, Quorum]) -> dict[str, int]:
    """`defaults.reviewers` of each loaded constitution, by id: what `Query.escalations`
    takes to leave closed decisions out."""
    return {cid: int(c.defaults.reviewers) for cid, c in constitutions.items()}


def under(body: Mapping[str, Any]) -> str:
    """The constitution id an escalation's reviewers are looked up by, as
    `api.reviews.required_reviewers` does ("" when none is recorded)."""
    provenance = body.get("provenance") or {}
    stamp = (provenance.get("constitution") if isinstance(provenance, Mapping) else {}) or {}
    return str(stamp.get("id", "")) if isinstance(stamp, Mapping) else ""


def needed(constitution: str, reviewers: Mapping[str, int]) -> int:
    """Distinct reviewers that close an escalation made `under` constitution; one for a
    constitution not given (as for one not loaded)."""
    return max(1, reviewers.get(constitution, 1))


def still_open(reviewers: Mapping[str, int], *, backers_column: str = "backers",
               constitution_column: str = "constitution", mark: str = "?"
               ) -> tuple[str, list[Any]]:
    """The SQL condition (and its parameters) `backers < needed(constitution)`, with a
    bound on `backers` alone first, so an index on (backers, seq) skips closed ones."""
    if not reviewers:
        return f"{backers_column} < 1", []
    cases = "".join(f" WHEN {mark} THEN {mark}" for _ in reviewers)
    params: list[Any] = [max(needed(c, reviewers) for c in reviewers)]
    for name in sorted(reviewers):
        params += [name, needed(name, reviewers)]
    return (f"{backers_column} < {mark} AND {backers_column} < CASE {constitution_column}"
            f"{cases} ELSE 1 END", params)


__all__ = ["CLOSING", "Quorum", "backers", "backing", "needed", "quorums", "still_open",
           "under"]
