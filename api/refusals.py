"""Refused texts and failed supervisions: an `error` decision in the ledger, never a 500.

Nothing is refused silently. Two things can stop a supervision at the HTTP edge:

- **A text that is not Unicode.** JSON can carry a lone UTF-16 surrogate (`"\\ud800"`),
  which Python reads into a string that no detector, hash or ledger line can take
  (it has no UTF-8 form). `refuse_invalid_text` finds the first one anywhere in a request
  body and answers 400 naming the field (`input[0]`, `messages[0].content`), after an
  `error` decision naming that field is recorded with no text (there is none to keep).
- **An exception escaping the supervision** (a detector or adapter bug, a text a model
  library will not take). `supervised` records an `error` decision for it, with the
  texts' hashes only (a failure may be in redaction itself), and returns it, so the route
  answers it as it answers any failed supervision: a 503 on the proxies, and what
  SUPERVISOR_MODERATION_ON_ERROR says on /v1/moderations. The exception goes to the
  service log under the request id, never into the record or the answer.

Such a decision withholds the text whatever the constitution's `on_error`: the edge
cannot tell which stage failed or what a primary model had answered, and a bug is no
reason to fail open. Its provenance names the constitution and models, and no detector
or judge template, since the edge cannot say which of them ran.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Mapping, Sequence
from dataclasses import replace
from typing import Any

import structlog
from fastapi import Request
from pydantic import BaseModel

from api.errors import ApiError
from api.service import Service
from supervisor.constitution import Constitution
from supervisor.decision import Action, Decision, Provenance, Stage
from supervisor.errors import ConfigError, ConstitutionError, LedgerError
from supervisor.providers import Provider

log = structlog.get_logger("api.refusals")
SURROGATE = re.compile("[\ud800-\udfff]")
PLAIN_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}\Z")
# what a route lets through as it is: its own answers, and failures no record can help
PASSED_ON = (ApiError, LedgerError, ConfigError, ConstitutionError)


def invalid_text(value: Any) -> tuple[str, int] | None:
    """The first string in a request body holding a lone surrogate: (field, character index).

    Walks models, mappings (keys too) and lists in document order, without recursion, so a
    deeply nested body cannot exhaust the stack. A surrogate pair sent as two escapes is one
    character once parsed, so only lone halves are found. A key that is not a plain name is
    named by its position (`context.<key 2>`): the field goes into the record's reason, and
    a caller's key can be an identifier.
    """
    stack: list[tuple[str, Any]] = [("", value)]
    while stack:
        path, item = stack.pop()
        if isinstance(item, str):
            if found := SURROGATE.search(item):
                return path or "body", found.start()
            continue
        if isinstance(item, BaseModel):
            item = dict(item)  # fields and extras, as sent
        if isinstance(item, Mapping):
            children = []
            for position, (key, child) in enumerate(item.items(), start=1):
                name = str(key) if PLAIN_NAME.match(str(key)) else f"<key {position}>"
                named = f"{path}.{name}" if path else name
                if found := SURROGATE.search(str(key)):
                    return f"{named} (its name)", found.start()
                children.append((named, child))
            stack.extend(reversed(children))
        elif isinstance(item, Sequence) and not isinstance(item, bytes | bytearray):
            stack.extend(reversed([(f"{path}[{i}]", c) for i, c in enumerate(item)]))
    return None


async def refuse_invalid_text(service: Service, body: BaseModel, *,
                              constitution: str | None, stage: Stage,
                              context: Mapping[str, str]) -> None:
    """Raise a 400 naming the field if `body` holds a lone surrogate, after recording it.

    `context` is what the route knows of the caller (never the body's own fields, which may
    hold the surrogate). The decision is recorded under the constitution the request names
    when there is one; a request whose constitution cannot be found is only answered.
    """
    found = invalid_text(body)
    if found is None:
        return
    field, index = found
    problem = (f"{field} holds a lone UTF-16 surrogate at character {index}, which is not "
               "Unicode text; send valid UTF-8 (a \\ud800-\\udbff escape must be followed "
               "by its \\udc00-\\udfff pair)")
    headers = {"x-should-retry": "false"}
    try:
        chosen = service.constitution(constitution)
    except ApiError:
        chosen = None
    if chosen is not None:
        decision = await record_error(service, chosen, stage=stage, context=context,
                                      reason=f"refused before supervision: {problem}")
        service.metrics.observe(decision)
        problem += f"; recorded as error decision {decision.record_id}"
        headers.update({"x-supervisor-record-id": decision.record_id or "",
                        "x-supervisor-action": str(decision.action)})
    raise ApiError(400, problem, param=field, code="invalid_text", headers=headers)


async def supervised(work: Awaitable[Decision], service: Service, request: Request,
                     constitution: Constitution, *, stage: Stage,
                     context: Mapping[str, str], prompt: str = "", text: str = "",
                     primary: Provider | None = None) -> Decision:
    """`await work`; an exception escaping it becomes a recorded `error` decision."""
    try:
        return await work
    except PASSED_ON:
        raise
    except Exception as exc:
        request_id = getattr(request.state, "request_id", "")
        log.exception("supervision_failed", request_id=request_id,
                      error_type=type(exc).__name__)
        return await record_error(
            service, constitution, stage=stage, context=context, prompt=prompt,
            original=text, primary=primary,
            reason=f"supervision failed: {type(exc).__name__} (the service log has the "
                   f"details under request id {request_id})")


async def record_error(service: Service, constitution: Constitution, *, stage: Stage,
                       context: Mapping[str, str], reason: str, prompt: str = "",
                       original: str = "", primary: Provider | None = None) -> Decision:
    """Append an `error` decision that withholds the text; its texts as hashes only."""
    decision = Decision(
        action=Action.ERROR, stage=stage, prompt=prompt, original=original,
        output=constitution.defaults.refusal, verdicts=(), reason=reason, released=False,
        failure="supervisor", provenance=Provenance(
            constitution_id=constitution.id, constitution_version=constitution.version,
            constitution_sha256=constitution.sha256,
            primary=primary.name if primary else None,
            supervisor=service.supervisor_model.name if service.supervisor_model else None),
        context=tuple(sorted(context.items())))
    record_id = await service.ledger.record(decision, store_text="none")
    return replace(decision, record_id=record_id)
