"""The review queue and the review form: a person's verdict becomes a new ledger record.

The record is added by `api.reviews.add_review` (the same as the JSON route), so an
override's text is stored under the decision's own `store_text` policy, the reviewer is
the name of the key that signed in, and an escalation needing two reviewers closes only
when a second, different person concurs. Nothing is edited: the decision stays as it
was, and its page lists the reviews linked to it and who closed it.
"""

from __future__ import annotations

import asyncio
from typing import Annotated

from fastapi import APIRouter, Form, Response
from fastapi.responses import RedirectResponse

from api.access import ServiceDep
from api.console.pages import around, record_page, recorded_read
from api.console.render import ConsoleRoute, page
from api.console.session import PATH, ReaderDep, WriterDep
from api.records import one, recorded
from api.reviews import ReviewRefused, add_review, queue_page
from supervisor.ledger.export import fired

router = APIRouter(prefix=PATH, route_class=ConsoleRoute, include_in_schema=False)


@router.get("/queue")
async def queue(service: ServiceDep, user: ReaderDep, before: int | None = None) -> Response:
    """Escalated decisions not closed yet, newest first, with "1 of 2 reviews", a page at a
    time (`before`: the cursor of the page before); recorded."""
    waiting, following = await asyncio.to_thread(queue_page, service.ledger.query,
                                                  service.constitutions, before=before)
    await recorded(service.ledger, actor=user.name, what="queue", via="console",
                   before=before, count=len(waiting))
    return page("queue.html", user, waiting=waiting, fired=fired, next_before=following)


@router.post("/records/{record_id}/reviews")
async def review(record_id: str, service: ServiceDep, user: WriterDep,
                 verdict: Annotated[str, Form()] = "", note: Annotated[str, Form()] = "",
                 text: Annotated[str, Form()] = "") -> Response:
    """Record agree / override (with the text to release) / note, then show the record."""
    found = await one(service.ledger, record_id)
    if found is None:
        return page("missing.html", user, status=404, record_id=record_id)
    decision = found.to_dict()
    try:
        receipt, _ = await add_review(
            service.ledger, decision, verdict=verdict, reviewer=user.name,
            note=note.strip(), text=text.strip() if verdict == "override" else None,
            constitutions=service.constitutions)
    except ReviewRefused as exc:
        await recorded_read(service, user, record_id)
        return record_page(service, user, decision, await around(service, decision),
                           status=exc.status, error=f"The review was not recorded: {exc}.")
    return RedirectResponse(f"{PATH}/records/{record_id}?reviewed={receipt.id}#reviews",
                            status_code=303)
