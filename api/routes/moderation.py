"""`POST /v1/moderations`: OpenAI's moderation shape, filled by the constitution.

`model` picks the constitution (default: the service's). Each input is checked against
the constitution's output principles (or input principles with `stage: input`), without
revision, and recorded. `categories` and `category_scores` come from the principles'
`moderation_category` (a sub-category also marks its parent); a score is the
supervisor's confidence in the violation, 0 when no mapped principle fired. `flagged` is
true when any principle is violated, mapped or not (a leaked SSN is flagged though
OpenAI has no category for it). Each result is extended with `supervisor`: the action,
the record id, the violated principles and every verdict.

It fails closed. When the supervisor could not decide (an `error` decision: the judge
overloaded or answering garbage, the deadline passed, the supervision crashed), the
answer never says `flagged: false`: by SUPERVISOR_MODERATION_ON_ERROR it is `flagged:
true` with `supervisor.action: error` and the reason (`flag`, the default), or a 503 in
OpenAI's error shape naming the error decisions' record ids (`unavailable`). This holds
whatever the constitution's `on_error`: that setting decides whether a supervised answer
is released, while a moderation result releases nothing and `flagged: false` would claim
the text was checked and found clean. A text that is not Unicode is refused with a 400
naming it (see `api.refusals`); every one of these leaves an `error` decision.
"""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

from fastapi import APIRouter, Request, Response

from api.access import AppCaller, ServiceDep, bound
from api.errors import ApiError
from api.refusals import refuse_invalid_text, supervised
from api.schemas import ModerationRequest
from supervisor.constitution import Constitution
from supervisor.decision import Action, Decision

router = APIRouter(tags=["moderation"])

CATEGORIES = ("harassment", "harassment/threatening", "hate", "hate/threatening", "illicit",
              "illicit/violent", "self-harm", "self-harm/instructions", "self-harm/intent",
              "sexual", "sexual/minors", "violence", "violence/graphic")


@router.post("/v1/moderations")
async def moderate(body: ModerationRequest, request: Request, response: Response,
                   service: ServiceDep, caller: AppCaller) -> dict[str, Any]:
    """Classify one text or a list of texts against a constitution."""
    context = {"app_id": caller.name, "route": "moderations"}
    chosen = bound(caller, body.model, param="model")  # 403 unless the key may use it
    await refuse_invalid_text(service, body, constitution=chosen, stage=body.stage,
                              context=context)
    constitution = service.constitution(chosen)
    texts = _texts(body.input)
    supervisor = service.supervisor(constitution)
    decisions = await asyncio.gather(*(
        supervised(supervisor.moderate(t, stage=body.stage, context=context), service,
                   request, constitution, stage=body.stage, context=context, text=t)
        for t in texts))
    for decision in decisions:
        service.metrics.observe(decision)
    record_ids = ",".join(d.record_id or "" for d in decisions)
    response.headers["x-supervisor-record-id"] = record_ids
    if service.settings.moderation_on_error == "unavailable":
        _unavailable(decisions, listed=not isinstance(body.input, str), record_ids=record_ids)
    return {"id": f"modr-{uuid.uuid4().hex[:24]}",
            "model": f"{constitution.id}@{constitution.version}",
            "results": [result(d, constitution) for d in decisions]}


def result(decision: Decision, constitution: Constitution) -> dict[str, Any]:
    """One OpenAI `Moderation` object, extended with the supervisor's decision."""
    scores = dict.fromkeys(CATEGORIES, 0.0)
    for verdict in decision.verdicts:
        if not verdict.violated:
            continue
        category = constitution.principle(verdict.principle).moderation_category
        if category:
            for name in {category, category.split("/")[0]} & set(CATEGORIES):
                scores[name] = max(scores[name], round(verdict.confidence, 4))
    return {
        # an error decision checked nothing: never claim the text is clean
        "flagged": bool(decision.violated) or decision.action is Action.ERROR,
        "categories": {c: scores[c] > 0 for c in CATEGORIES},
        "category_scores": scores,
        "category_applied_input_types": {c: ["text"] for c in CATEGORIES},
        "supervisor": {
            "action": str(decision.action),
            "released": decision.released,
            "record_id": decision.record_id,
            "violated": list(decision.violated),
            "unevaluated": list(decision.unevaluated),
            "reason": decision.reason,
            "verdicts": decision.to_dict()["verdicts"],
            "constitution": {"id": constitution.id, "version": constitution.version,
                             "sha256": constitution.sha256},
        },
    }


def _unavailable(decisions: list[Decision], *, listed: bool, record_ids: str) -> None:
    """SUPERVISOR_MODERATION_ON_ERROR=unavailable: a 503 naming each error decision."""
    failed = [(f"input[{i}]" if listed else "input", d) for i, d in enumerate(decisions)
              if d.action is Action.ERROR]
    if not failed:
        return
    named = "; ".join(f"{where}: {d.reason} [record {d.record_id}]" for where, d in failed)
    raise ApiError(503, f"the supervisor could not classify {len(failed)} of "
                   f"{len(decisions)} input(s), so no result is given ({named}); the "
                   "error decisions are in the ledger; retry later",
                   kind="supervisor_error", code="supervision_failed",
                   headers={"x-supervisor-record-id": record_ids,
                            "x-supervisor-action": str(Action.ERROR),
                            "x-should-retry": "false"})


def _texts(given: Any) -> list[str]:
    if isinstance(given, str):
        return [given]
    if not given:
        raise ApiError(400, "input is an empty list; give a text or a list of texts",
                       param="input")
    texts: list[str] = []
    for index, item in enumerate(given):
        if isinstance(item, str):
            texts.append(item)
        elif item.type == "text" and item.text is not None:
            texts.append(item.text)
        else:
            raise ApiError(400, f"input[{index}] is a {item.type!r} part; only text is "
                           "moderated here", param=f"input[{index}].type")
    return texts
