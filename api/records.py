"""Reading the ledger for the audit routes and the console: pages, filters, access records.

Reads go through the ledger's index (`Ledger.query`, in a worker thread), so a page costs
what it shows; filters are `supervisor.ledger.export.Filter`, the same ones `supervisor
audit export` uses, read from a query or form by `filter_of` (a malformed period is a
`BadFilter` naming the field, never an empty answer).

Every read of records, one or many, leaves exactly one `access` record (`recorded`)
naming the actor, what was read (the filter and how many records) and the way in
(`api` or `console`). The access record is appended after the read, so a read never
includes its own record, and appending reads nothing: a read costs one record, however
many records it shows.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import asdict
from typing import Any, Literal

from supervisor.errors import ConfigError, NotCovered
from supervisor.ledger import Ledger, verify_proof
from supervisor.ledger.export import Filter, moment
from supervisor.ledger.index import Page
from supervisor.ledger.stored import Record

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


async def everything(ledger: Ledger) -> list[dict[str, Any]]:
    """Every record, oldest first: only for reads that need the whole chain."""
    return await asyncio.to_thread(lambda: list(ledger.records_in_order()))


async def one(ledger: Ledger, record_id: str) -> Record | None:
    """One record by id, or None (an index lookup and one read)."""
    found = await asyncio.to_thread(ledger.query.get, record_id)
    return None if found is None else Record.of(found)


async def matching(ledger: Ledger, keep: Filter) -> list[dict[str, Any]]:
    """Every record `keep` keeps, oldest first (reads only the matches)."""
    return await asyncio.to_thread(lambda: list(ledger.query.matching(keep)))


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
    return await asyncio.to_thread(ledger.query.page, keep, search=search, limit=limit,
                                   before=before)


async def reviews_of(ledger: Ledger, record_id: str) -> list[dict[str, Any]]:
    """The review records linked to a decision, oldest first."""
    return await asyncio.to_thread(ledger.query.reviews_of, record_id)
