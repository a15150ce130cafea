"""Audit routes for the auditor role: records, verify, prove, export, reviews, queue.

Every read of records (one record, a list, the queue, an export) is itself recorded as
one `access` record with the key's name, the filter and the count, so the ledger says who
looked at what. A malformed `since` / `until` is a 400 naming it, never an empty answer.
A review is a new `review` record linked to the decision; nothing is ever edited in place.
"""

from __future__ import annotations

import asyncio
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Response

from api.access import AuditorCaller, ServiceDep
from api.errors import ApiError
from api.records import (
    BadFilter,
    checked_proof,
    filter_of,
    matching,
    one,
    page,
    recorded,
    reviews_of,
)
from api.reviews import (
    QUEUE_PAGE,
    ReviewRefused,
    ReviewState,
    add_review,
    queue_page,
    state_of,
)
from api.schemas import ReviewRequest
from api.sealed import opened
from supervisor.errors import UnknownRecord
from supervisor.ledger.export import TIME_FORMAT, Filter, to_csv, to_jsonl

router = APIRouter(prefix="/v1/audit", tags=["audit"])
Since = Annotated[str, Query(description=f"Lower bound (inclusive): {TIME_FORMAT}")]
Until = Annotated[str, Query(description=f"Upper bound (inclusive; a bare date means the "
                                         f"end of that day): {TIME_FORMAT}")]


def _filter(since: str, until: str, kind: str, action: str, principle: str,
            constitution: str, app: str, stage: str = "", user_ref: str = "") -> Filter:
    """The filter of a query; a malformed `since` / `until` is a 400 naming it."""
    try:
        return filter_of({"since": since, "until": until, "kind": kind, "action": action,
                          "principle": principle, "constitution": constitution, "app": app,
                          "stage": stage, "user_ref": user_ref})
    except BadFilter as exc:
        raise ApiError(400, str(exc), param=exc.field) from None


@router.get("/records")
async def records(service: ServiceDep, caller: AuditorCaller, since: Since = "",
                  until: Until = "", kind: str = "", action: str = "", principle: str = "",
                  constitution: str = "", app: str = "", stage: str = "",
                  user_ref: str = "", search: str = "",
                  limit: Annotated[int, Query(ge=1, le=500)] = 50,
                  before: Annotated[int | None, Query(ge=0)] = None) -> dict[str, Any]:
    """Records newest first, filtered; `before` (a seq) pages on. The read is recorded."""
    keep = _filter(since, until, kind, action, principle, constitution, app, stage, user_ref)
    found = await page(service.ledger, keep, search=search, limit=limit, before=before)
    await recorded(service.ledger, actor=caller.name, what="list", via="api", keep=keep,
                   search=search, before=before, count=len(found.records),
                   total=found.total)
    return {"records": found.records, "total": found.total, "next_before": found.next_before,
            "actions": found.actions}


@router.get("/records/{record_id}")
async def record(record_id: str, service: ServiceDep, caller: AuditorCaller
                 ) -> dict[str, Any]:
    """One record as stored, with the reviews linked to it; the read is recorded."""
    found = await one(service.ledger, record_id)
    if found is None:
        raise ApiError(404, f"no record {record_id!r} in the ledger", param="record_id")
    reviews = await reviews_of(service.ledger, record_id)
    await recorded(service.ledger, actor=caller.name, what="record", via="api",
                   record=record_id)
    stored = found.to_dict()
    answer: dict[str, Any] = {"record": stored, "reviews": reviews}
    if found.sealed:  # store_text: encrypted; `record` as stored
        body, note = opened(service.settings, caller.role, stored["body"])
        answer["opened"] = {"body": None if note else body, "note": note}
    if found.kind == "decision":
        answer["review_status"] = _status(state_of(stored, reviews, service.constitutions))
    return answer


@router.get("/verify")
async def verify(service: ServiceDep, caller: AuditorCaller,
                 allow_unsigned_tail: Annotated[int, Query(ge=0)] = 0) -> dict[str, Any]:
    """Recompute every hash, Merkle root and signature; records no signed checkpoint
    covers fail beyond `allow_unsigned_tail`. The server first signs the records it
    appended itself, as its checkpoint loop would within a second."""
    await service.ledger.sign_pending()
    report = await asyncio.to_thread(service.ledger.verify,
                                     allow_unsigned_tail=allow_unsigned_tail)
    return report.to_dict()


@router.get("/records/{record_id}/proof")
async def proof(record_id: str, service: ServiceDep, caller: AuditorCaller
                ) -> dict[str, Any]:
    """An inclusion proof against the latest signed checkpoint (one is signed if needed)."""
    try:
        checked = await checked_proof(service.ledger, record_id)
    except UnknownRecord as exc:
        raise ApiError(404, str(exc), param="record_id") from None
    verified = checked.pop("verified")
    return {"proof": checked, "verified": verified}


@router.post("/checkpoint")
async def checkpoint(service: ServiceDep, caller: AuditorCaller) -> dict[str, Any]:
    """Sign a checkpoint over everything stored now."""
    receipt = await service.ledger.checkpoint()
    return {"seq": receipt.seq, "record_id": receipt.id, "hash": receipt.hash}


@router.get("/public-key", response_class=Response)
async def public_key(service: ServiceDep, caller: AuditorCaller) -> Response:
    """The Ed25519 public key that verifies checkpoints (PEM)."""
    return Response(service.ledger.public_pem, media_type="application/x-pem-file")


@router.get("/export", response_class=Response)
async def export(service: ServiceDep, caller: AuditorCaller,
                 format: Literal["csv", "jsonl"] = "jsonl", since: Since = "",
                 until: Until = "", kind: str = "", action: str = "", principle: str = "",
                 constitution: str = "", app: str = "", stage: str = "",
                 user_ref: str = "") -> Response:
    """Matching records as CSV or canonical JSONL (JSONL lines still verify); recorded."""
    keep = _filter(since, until, kind, action, principle, constitution, app, stage, user_ref)
    chosen = await matching(service.ledger, keep)
    await recorded(service.ledger, actor=caller.name, what="export", via="api", keep=keep,
                   format=format, count=len(chosen))
    if format == "csv":
        return Response(to_csv(chosen), media_type="text/csv",
                        headers={"content-disposition": "attachment; filename=records.csv"})
    return Response(to_jsonl(chosen), media_type="application/x-ndjson",
                    headers={"content-disposition": "attachment; filename=records.jsonl"})


@router.get("/queue")
async def queue(service: ServiceDep, caller: AuditorCaller, since: Since = "",
                until: Until = "", limit: Annotated[int, Query(ge=1, le=500)] = QUEUE_PAGE,
                before: Annotated[int | None, Query(ge=0)] = None) -> dict[str, Any]:
    """Escalated decisions waiting for a reviewer, newest first, a page at a time
    (escalated within the period, when one is given). `next_before` is the cursor of the
    next page, null after the last; a page may hold fewer than `limit` waiting decisions,
    since the index's page can hold some a reviewer closed. The read is recorded."""
    keep = _filter(since, until, "", "", "", "", "")
    waiting, following = await asyncio.to_thread(
        queue_page, service.ledger.query, service.constitutions, keep, before=before,
        limit=limit)
    await recorded(service.ledger, actor=caller.name, what="queue", via="api", keep=keep,
                   before=before, count=len(waiting))
    return {"records": [r for r, _ in waiting], "count": len(waiting),
            "next_before": following,
            "review_status": {r["id"]: _status(state) for r, state in waiting}}


@router.post("/records/{record_id}/reviews")
async def review(record_id: str, body: ReviewRequest, response: Response,
                 service: ServiceDep, caller: AuditorCaller) -> dict[str, Any]:
    """A reviewer's verdict (agree / override with text / note): a new linked record.

    An escalation whose constitution sets `defaults.reviewers` closes only when that many
    different reviewers concur; the same reviewer twice, or any review of a closed
    decision, is a 409 that says so."""
    found = await one(service.ledger, record_id)
    if found is None:
        raise ApiError(404, f"no record {record_id!r} in the ledger", param="record_id")
    try:
        receipt, content = await add_review(
            service.ledger, found.to_dict(), verdict=body.verdict, reviewer=caller.name,
            note=body.note, text=body.text, constitutions=service.constitutions)
    except ReviewRefused as exc:
        raise ApiError(exc.status, str(exc), param="verdict") from None
    response.headers["x-supervisor-record-id"] = receipt.id
    return {"record_id": receipt.id, "seq": receipt.seq, "review": content}


def _status(state: ReviewState) -> dict[str, Any]:
    """A decision's review state as the API shows it."""
    return {"required": state.required, "done": state.done, "closed": state.closed,
            "closed_by": list(state.closed_by), "closed_at": state.closed_at or None,
            "reviewers": list(state.reviewers), "disagree": state.disagree}
