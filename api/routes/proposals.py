"""Four-eyes activation over HTTP: propose a constitution version, approve or reject it.

An admin proposes (`POST /v1/constitutions/proposals`: the constitution id and either
the new YAML text or `from_file: true`, optionally a replay report as `attachment`,
kept in the ledger as its sha256 and a short summary); a different person, admin or
auditor, approves (the version becomes active at once, on every worker within
`api.activation.FOLLOW_S` seconds) or rejects with a reason. The proposer approving
their own proposal is 403; a proposal whose base version is no longer active is 409.
Listing proposals is a read of audit data and leaves an `access` record.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from api.access import AdminCaller, AuditorCaller, ServiceDep
from api.records import recorded

router = APIRouter(prefix="/v1/constitutions/proposals", tags=["constitutions"])
MAX_TEXT = 1_000_000  # characters of YAML or of an attached report


class _Closed(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ProposalRequest(_Closed):
    """A new version of one constitution, from posted text or from its file."""

    constitution: str = Field(description="The id of the constitution to change")
    yaml: str | None = Field(None, max_length=MAX_TEXT,
                             description="The new version's YAML text (extends: ids only)")
    from_file: bool = Field(False, description="Read the constitution's own file again")
    attachment: str | None = Field(
        None, max_length=MAX_TEXT,
        description="A replay report (`supervisor replay --json` output or Markdown); the "
                    "ledger keeps its sha256 and a summary of its figures")
    note: str = Field("", max_length=4000, description="Why the change is proposed")


class Approval(_Closed):
    note: str = Field("", max_length=4000)


class Rejection(_Closed):
    reason: str = Field(description="Why it is rejected (required)", max_length=4000)


@router.get("")
async def listed(service: ServiceDep, caller: AuditorCaller) -> dict[str, Any]:
    """Open proposals (pending or stale), newest first, and the latest decided ones."""
    await service.activation.follow()
    book = service.activation.book
    waiting, decided = book.open(), book.decided()
    await recorded(service.ledger, actor=caller.name, what="proposals", via="api",
                   count=len(waiting) + len(decided))
    return {"data": [p.to_dict() for p in waiting],
            "decided": [p.to_dict() for p in decided]}


@router.post("", status_code=201)
async def propose(body: ProposalRequest, service: ServiceDep,
                  caller: AdminCaller) -> dict[str, Any]:
    """Record a proposal; nothing changes until a different person approves it."""
    found = await service.activation.propose(
        caller, body.constitution, text=body.yaml, from_file=body.from_file,
        attachment=body.attachment, note=body.note)
    return found.to_dict()


@router.get("/{proposal_id}")
async def one(proposal_id: str, service: ServiceDep, caller: AuditorCaller) -> dict[str, Any]:
    """One proposal with its diff, attachment summary and state."""
    await service.activation.follow()
    found = service.activation.proposal(proposal_id)
    await recorded(service.ledger, actor=caller.name, what="proposal", via="api",
                   record=proposal_id)
    return found.to_dict()


@router.post("/{proposal_id}/approve")
async def approve(proposal_id: str, service: ServiceDep, caller: AuditorCaller,
                  body: Approval | None = None) -> dict[str, Any]:
    """Approve and activate (not the proposer: 403; base no longer active: 409)."""
    found = await service.activation.approve(caller, proposal_id,
                                             note=body.note if body else "")
    active = service.constitution(found.constitution)
    return {**found.to_dict(), "active": {"id": active.id, "version": active.version,
                                          "sha256": active.sha256}}


@router.post("/{proposal_id}/reject")
async def reject(proposal_id: str, body: Rejection, service: ServiceDep,
                 caller: AuditorCaller) -> dict[str, Any]:
    """Close a proposal without activating it; the reason is recorded."""
    return (await service.activation.reject(caller, proposal_id, reason=body.reason)).to_dict()
