"""`POST /v1/supervise`: the whole pipeline over HTTP, for services that are not vendor SDKs.

Give `output` to check an answer you already have; omit it and the primary model (the
request's `primary`, else the service's) answers first. Returns the full decision (every
stage's verdicts, revisions, provenance, timings, usage and record id). The record id is
also in the `x-supervisor-record-id` header, and the record is durable before the reply.
A text that is not Unicode is refused with a 400 naming the field, and a supervision
that crashes is answered as an `error` decision; both are recorded (see `api.refusals`).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response

from api.access import AppCaller, ServiceDep, bound, recorded_app
from api.errors import ApiError
from api.refusals import refuse_invalid_text, supervised
from api.schemas import SuperviseRequest
from api.service import DEFAULT_MODEL
from supervisor.providers import Message

router = APIRouter(tags=["supervise"])


@router.post("/v1/supervise")
async def supervise(body: SuperviseRequest, request: Request, response: Response,
                    service: ServiceDep, caller: AppCaller) -> dict[str, Any]:
    """Supervise an answer (or generate one and supervise it); returns the decision."""
    chosen = bound(caller, body.constitution, param="constitution")  # 403 unless allowed
    await refuse_invalid_text(service, body, constitution=chosen,
                              stage="input" if body.output is None else "output",
                              context={"app_id": caller.name, "key": caller.name,
                                       "route": "supervise"})
    constitution = service.constitution(chosen)
    messages = tuple(Message(t.role, t.content) for t in body.messages or ())
    prompt = body.prompt or next((m.content for m in reversed(messages) if m.role == "user"),
                                 "")
    if not prompt and body.output is None:
        raise ApiError(400, "give `prompt` (or `messages` with a user turn) for the primary "
                       "model to answer, or `output` to check an answer you have",
                       param="prompt")
    primary = None
    if body.output is None:
        primary = service.primary(body.primary or DEFAULT_MODEL)
    context = {**body.context, "key": caller.name,
               **recorded_app(request, caller, body.context.get("app_id"), param="context.app_id")}
    decision = await supervised(
        service.supervisor(constitution, primary=primary).supervise(
            prompt=prompt, output=body.output, messages=messages or None, context=context),
        service, request, constitution, stage="output", context=context, prompt=prompt,
        text=body.output or "", primary=primary)
    service.metrics.observe(decision)
    response.headers["x-supervisor-record-id"] = decision.record_id or ""
    response.headers["x-supervisor-action"] = str(decision.action)
    return decision.to_dict()
