"""Reading the ledger for the audit routes and the console: pages, the review queue.

The stores are read whole (a sequential scan, in a worker thread); filters are
`supervisor.ledger.export.Filter`, the same ones `supervisor audit export` uses.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from dataclasses import dataclass
from typing import Any

from supervisor.errors import NotCovered
from supervisor.ledger import Ledger, verify_proof
from supervisor.ledger.export import Filter


@dataclass(frozen=True, slots=True)
class Page:
    """Newest first: the records on this page, the cursor for the next, counts per action."""

    records: list[dict[str, Any]]
    total: int
    next_before: int | None
    actions: dict[str, int]


async def everything(ledger: Ledger) -> list[dict[str, Any]]:
    return await asyncio.to_thread(lambda: list(ledger.records_in_order()))


async def checked_proof(ledger: Ledger, record_id: str) -> dict[str, Any]:
    """The record's inclusion proof, checked against our key, with `verified` added.

    A record no checkpoint covers yet gets one signed first (the API and the console
    both offer the check on any record); an unknown id raises UnknownRecord.
    """
    try:
        proved = await asyncio.to_thread(ledger.prove, record_id)
    except NotCovered:
        await ledger.checkpoint()
        proved = await asyncio.to_thread(ledger.prove, record_id)
    body = proved.to_dict()
    return {**body, "verified": verify_proof(body, ledger.public_pem)}


async def page(ledger: Ledger, keep: Filter, *, search: str = "", limit: int = 50,
               before: int | None = None) -> Page:
    """One page of matching records, newest first; `before` is a seq cursor."""
    matched = [r for r in await everything(ledger)
               if keep(r) and (not search or search.lower() in r["id"].lower())]
    actions = Counter(str((r.get("body") or {}).get("action")) for r in matched
                      if r["kind"] == "decision")
    newest = [r for r in reversed(matched) if before is None or r["seq"] < before]
    shown = newest[:limit]
    more = len(newest) > limit
    return Page(shown, len(matched), shown[-1]["seq"] if more and shown else None,
                dict(actions))


def open_escalations(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Escalated decisions no reviewer has acted on yet (notes do not close one), newest first."""
    closed = {(r.get("body") or {}).get("decision") for r in records
              if r["kind"] == "review" and (r.get("body") or {}).get("verdict") != "note"}
    return [r for r in reversed(records) if r["kind"] == "decision"
            and (r.get("body") or {}).get("action") == "escalate" and r["id"] not in closed]


def reviews_of(records: list[dict[str, Any]], record_id: str) -> list[dict[str, Any]]:
    """The review records linked to a decision, oldest first."""
    return [r for r in records if r["kind"] == "review"
            and (r.get("body") or {}).get("decision") == record_id]
