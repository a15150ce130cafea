"""Constitutions, health, readiness and metrics.

`/healthz` says the process answers (no auth, for a load balancer); `/readyz` says the
ledger is open and appends go through within a bound (not stuck behind another writer's
lock, last append not failed), and the detectors and default primary model are loaded
(503 with what is missing until then); `/metrics` is Prometheus text. Reading constitutions
needs any key; reloading them needs admin, and proposes changed files (`api.activation`).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Response
from fastapi.responses import JSONResponse

from api.access import AdminCaller, KeyCaller, ServiceDep, bound
from api.service import Readiness
from supervisor.constitution import Constitution

router = APIRouter(tags=["system"])
READY_BOUND_S = 2.0  # an append waiting longer than this makes the service not ready


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    """The process is up."""
    return {"status": "ok"}


@router.get("/readyz", response_model=None)
async def readyz(service: ServiceDep) -> JSONResponse:
    """Ready to supervise: ledger writable, constitutions, detectors and models loaded."""
    parts = dict(service.readiness.parts)
    if parts.get("ledger") == "ok":
        bound = min(READY_BOUND_S, service.settings.ledger_timeout_s / 2)
        parts["ledger"] = await service.ledger.health(bound) or (
            "ok" if _writable(service) else "not writable")
    ready = Readiness(parts).ready
    return JSONResponse({"ready": ready, "parts": parts}, status_code=200 if ready else 503)


@router.get("/metrics", response_class=Response)
async def metrics(service: ServiceDep) -> Response:
    """Prometheus metrics."""
    return Response(service.metrics.render(),
                    media_type="text/plain; version=0.0.4; charset=utf-8")


@router.get("/v1/constitutions")
async def constitutions(service: ServiceDep, caller: KeyCaller) -> dict[str, Any]:
    """The constitutions this service answers for (a bound key: those it may use)."""
    return {"default": bound(caller, None, param="constitution")
            or service.default_constitution,
            "data": [_summary(c) for c in service.constitutions.values()
                     if caller.may_use(c.id)]}


@router.get("/v1/constitutions/{constitution_id}")
async def constitution(constitution_id: str, service: ServiceDep, caller: KeyCaller
                       ) -> dict[str, Any]:
    """One constitution: its principles, defaults and sha256 (403 for a bound key's other)."""
    found = service.constitution(bound(caller, constitution_id, param="constitution_id"))
    return {**_summary(found), "extends": list(found.lineage),
            "content": json.loads(found.canonical)}


@router.post("/v1/constitutions/reload")
async def reload(service: ServiceDep, caller: AdminCaller, break_glass: bool = False,
                 reason: str = "") -> dict[str, Any]:
    """Re-read every constitution from disk and propose each changed one for approval by a
    second person (`/v1/constitutions/proposals`). Break-glass (`?break_glass=true&reason=
    ...`) activates a changed file at once and records it loudly, with the reason."""
    done = await service.reload(caller=caller, break_glass=break_glass, reason=reason)
    return {"data": [_summary(c) for c in service.constitutions.values()],
            "proposals": [p.id for p in done.proposals],
            "proposed": [{"id": p.id, "constitution": p.constitution,
                          "version": p.new.version, "sha256": p.new.sha256,
                          "state": p.state} for p in done.proposals],
            "activated": [_summary(c) for c in done.activated],
            "refused": done.refused, "break_glass": break_glass}


def _summary(c: Constitution) -> dict[str, Any]:
    return {"id": c.id, "version": c.version, "sha256": c.sha256,
            "principles": [p.id for p in c.principles]}


def _writable(service: ServiceDep) -> bool:
    target = service.settings.ledger
    if "://" in target:
        return True  # PostgreSQL: the open pool is the check; appends fail loudly
    return os.access(Path(target), os.W_OK)
