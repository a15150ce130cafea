"""Constitution proposals in the console: pending versions with their diff and replay
figures, and the approve / reject forms for a person other than the proposer.

The forms call the same `api.activation.Activation` as the JSON routes, so the records,
the four-eyes rule (the proposer's own approval is refused, 403) and the stale check (409)
are the same; a refusal is shown on the page with its reason. Showing the page is a
read of audit data and leaves one `access` record.
"""

from __future__ import annotations

from collections.abc import Awaitable
from typing import Annotated

from fastapi import APIRouter, Form, Response
from fastapi.responses import RedirectResponse

from api.access import ServiceDep
from api.console.render import ConsoleRoute, page
from api.console.session import PATH, Reader, ReaderDep, WriterDep
from api.errors import ApiError
from api.records import recorded
from api.service import Service

router = APIRouter(prefix=PATH, route_class=ConsoleRoute, include_in_schema=False)


@router.get("/proposals")
async def proposals(service: ServiceDep, user: ReaderDep, done: str = "",
                    proposal: str = "") -> Response:
    """Open proposals (pending or stale) with diff and attachment, then recent decisions."""
    return await _page(service, user, done=done, proposal=proposal)


@router.post("/proposals/{proposal_id}/approve")
async def approve(proposal_id: str, service: ServiceDep, user: WriterDep,
                  note: Annotated[str, Form()] = "") -> Response:
    """Approve and activate (refused on the page for the proposer, or a stale base)."""
    return await _decided(service, user, proposal_id, "approved",
                          service.activation.approve(user, proposal_id, note=note))


@router.post("/proposals/{proposal_id}/reject")
async def reject(proposal_id: str, service: ServiceDep, user: WriterDep,
                 reason: Annotated[str, Form()] = "") -> Response:
    """Reject with a reason (required)."""
    return await _decided(service, user, proposal_id, "rejected",
                          service.activation.reject(user, proposal_id, reason=reason))


async def _decided(service: Service, user: Reader, proposal_id: str, done: str,
                   deciding: Awaitable[object]) -> Response:
    """Run the decision; back to the list saying what was done, or the page with why not."""
    try:
        await deciding
    except ApiError as exc:
        return await _page(service, user, status=exc.status, error=exc.message)
    return RedirectResponse(f"{PATH}/proposals?done={done}&proposal={proposal_id}",
                            status_code=303)


async def _page(service: Service, user: Reader, *, status: int = 200, error: str = "",
                done: str = "", proposal: str = "") -> Response:
    await service.activation.follow()
    book = service.activation.book
    waiting, decided = book.open(), book.decided()
    await recorded(service.ledger, actor=user.name, what="proposals", via="console",
                   count=len(waiting) + len(decided))
    return page("proposals.html", user, status=status, waiting=waiting, decided=decided,
                error=error, done=done if done in ("approved", "rejected") else "",
                proposal=proposal, lines=_lines)


def _lines(diff: str) -> list[tuple[str, str]]:
    """A unified diff's lines as (kind, text): `+` added, `-` removed, `@` a hunk, ` `."""
    found: list[tuple[str, str]] = []
    for line in diff.splitlines():
        if line.startswith(("+++", "---")):
            found.append(("@", line))
        else:
            found.append((line[:1] if line[:1] in "+-@" else " ", line))
    return found
