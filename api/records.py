"""Reading the ledger for the audit routes and the console: pages, filters, access records.

The stores are read whole (a sequential scan, in a worker thread); filters are
`supervisor.ledger.export.Filter`, the same ones `supervisor audit export` uses, read
from a query or form by `filter_of` (a malformed period is a `BadFilter` naming the
field, never an empty answer).

Every read of records, one or many, leaves exactly one `access` record (`recorded`)
naming the actor, what was read (the filter and how many records) and the way in
(`api` or `console`). The access record is appended after the read, so a read never
includes its own record, and appending reads nothing: a read costs one record, however
many records it shows.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any, Literal

from supervisor.errors import ConfigError, NotCovered
from supervisor.ledger import Ledger, verify_proof
from supervisor.ledger.export import Filter, moment

Via = Literal["api", "console"]


class BadFilter(ValueError):
    """A filter field that cannot be read; `field` names it, the message says the form."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


def filter_of(fields: Mapping[str, str], *, kind: str = "") -> Filter:
    """`Filter.of(fields)`, or BadFilter naming `since` or `until` when one is malformed."""
    for name in ("since", "until"):
        try:
            moment(fields.get(name) or "", name=name)
        except ConfigError as exc:
            raise BadFilter(name, str(exc)) from None
    return Filter.of(fields, kind=kind)


async def recorded(ledger: Ledger, *, actor: str, what: str, via: Via,
                   keep: Filter | None = None, **details: Any) -> None:
    """Append the one `access` record of a read: who, what (filter, counts), which way."""
    body: dict[str, Any] = {"actor": actor, "what": what}
    if keep is not None:
        body["filter"] = {k: v for k, v in asdict(keep).items() if v}
    body.update({k: v for k, v in details.items() if v is not None and v != ""})
    body["via"] = via
    await ledger.append("access", body)


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


def reviews_of(records: list[dict[str, Any]], record_id: str) -> list[dict[str, Any]]:
    """The review records linked to a decision, oldest first."""
    return [r for r in records if r["kind"] == "review"
            and (r.get("body") or {}).get("decision") == record_id]
