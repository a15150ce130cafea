"""The decisions list, the record page and its inclusion-proof check.

Every page that shows records (the list, a record) is a read of audit data, so each
view appends one `access` record naming the reader (as the JSON routes do). The proof
check may sign a checkpoint, so it is a form post with the CSRF token.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request, Response
from fastapi.responses import RedirectResponse

from api.access import ServiceDep
from api.console.render import ConsoleRoute, bad_filter, page
from api.console.session import PATH, Reader, ReaderDep, WriterDep
from api.console.views import diff, excerpt, explain, split_usage
from api.records import BadFilter, checked_proof, filter_of, one, recorded, reviews_of
from api.records import page as page_of
from api.reviews import state_of
from api.sealed import opened
from api.service import Service
from supervisor.errors import UnknownRecord
from supervisor.ledger.export import fired

router = APIRouter(prefix=PATH, route_class=ConsoleRoute, include_in_schema=False)
PAGE_SIZE = 25
FILTERS = ("since", "until", "action", "principle", "constitution", "app", "search")


@router.get("/")
async def home(user: ReaderDep) -> Response:
    return RedirectResponse(PATH + "/decisions", status_code=303)


@router.get("/decisions")
async def decisions(request: Request, service: ServiceDep, user: ReaderDep,
                    before: int | None = None) -> Response:
    """Decisions newest first, filtered, a page at a time, with counts per action."""
    params = {k: request.query_params.get(k, "").strip() for k in FILTERS}
    try:
        keep = filter_of(params, kind="decision")
    except BadFilter as exc:
        return bad_filter(user, exc, PATH + "/decisions")
    versions, apps = await asyncio.to_thread(service.ledger.query.labels)
    found = await page_of(service.ledger, keep, search=params["search"], limit=PAGE_SIZE,
                          before=before)
    await recorded(service.ledger, actor=user.name, what="list", via="console", keep=keep,
                   search=params["search"], before=before, count=len(found.records),
                   total=found.total)
    principles = sorted({p.id for c in service.constitutions.values() for p in c.principles})
    return page("decisions.html", user, params=params, found=found, fired=fired,
                excerpt=excerpt,
                principles=principles, versions=versions, apps=apps,
                query=urlencode({k: v for k, v in params.items() if v}))


@dataclass(frozen=True, slots=True)
class Around:
    """What a record's page shows beside the record: its reviews, the latest checkpoint."""

    reviews: list[dict[str, Any]]
    checkpointed: int


async def around(service: Service, record: dict[str, Any]) -> Around:
    """Read the reviews linked to `record` and the latest checkpoint's size (indexed)."""
    return Around(await reviews_of(service.ledger, record["id"]),
                  await asyncio.to_thread(service.ledger.query.checkpointed))


def record_page(service: Service, user: Reader, record: dict[str, Any], near: Around, *,
                status: int = 200, error: str = "", proof: dict[str, Any] | None = None
                ) -> Response:
    body, sealed_note = opened(service.settings, user.role, record.get("body") or {})
    texts = body.get("texts") or None
    left, right = diff(texts.get("original") or "", texts.get("output") or "") \
        if texts else ([], [])
    latest = near.checkpointed
    waiting = record["kind"] == "decision" and body.get("action") == "escalate"
    state = state_of(record, near.reviews, service.constitutions) \
        if record["kind"] == "decision" else None
    explained = explain(body.get("verdicts") or [], body.get("provenance") or {},
                        service.constitutions)
    return page("record.html", user, status=status, record=record, body=body, texts=texts,
                left=left, right=right,
                explained=explained, wording={e.verdict.get("principle"): e for e in explained},
                reviews=near.reviews, covered=latest > record["seq"],
                checkpoint_size=latest, waiting=waiting, error=error, proof=proof,
                fired=fired(body), state=state, usage=split_usage(body),
                sealed_note=sealed_note)


@router.get("/records/{record_id}")
async def record(record_id: str, service: ServiceDep, user: ReaderDep) -> Response:
    """One record as stored, explained; the read is recorded as `access`."""
    found = await one(service.ledger, record_id)
    if found is None:
        return page("missing.html", user, status=404, record_id=record_id)
    stored = found.to_dict()
    near = await around(service, stored)
    await recorded_read(service, user, record_id)
    return record_page(service, user, stored, near)


async def recorded_read(service: Service, user: Reader, record_id: str) -> None:
    """Append the `access` record for a reader seeing a record's page."""
    await recorded(service.ledger, actor=user.name, what="record", via="console",
                   record=record_id)


@router.post("/records/{record_id}/proof")
async def proof(record_id: str, service: ServiceDep, user: WriterDep) -> Response:
    """Check the record's inclusion proof against the latest signed checkpoint.

    If no checkpoint covers the record yet, one is signed first (as the JSON route does).
    """
    try:
        result = await checked_proof(service.ledger, record_id)
    except UnknownRecord:
        return page("missing.html", user, status=404, record_id=record_id)
    await recorded_read(service, user, record_id)
    found = await one(service.ledger, record_id)  # read after the new checkpoint
    if found is None:  # proved a moment ago; only a store swapped underneath gets here
        return page("missing.html", user, status=404, record_id=record_id)
    stored = found.to_dict()
    return record_page(service, user, stored, await around(service, stored), proof=result)
