"""Route guards: which role a route needs, and who is calling.

A key arrives as `Authorization: Bearer KEY` (the OpenAI SDK) or `x-api-key: KEY` (the
Anthropic SDK). Both schemes are declared to FastAPI so the OpenAPI document says how to
authenticate. No key or an unknown key is 401; a known key of the wrong role is 403.

Then the key's binding (see `api.keys`): its limits hold a slot for the whole request
(`api.quotas`, 429 past them); a route that picks a constitution asks `bound`, which
refuses one the key is not bound to with a 403 naming the key's app and the
constitutions it may use (a bound key that names none gets its first). `recorded_app`
says which app a decision is recorded under: always the key's (its name) when the
key's entry has options; a caller's own name for its app (`x-supervisor-app`, a
/v1/supervise context `app_id`) is then kept only as `app_label`. A key without
options keeps the old behaviour (the caller's name is the app id). No key may record
under the name of another configured key: that is a 403.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer

from api.errors import ApiError
from api.keys import Caller, Role
from api.quotas import Quotas
from api.service import Service

_bearer = HTTPBearer(auto_error=False, description="An API key: Authorization: Bearer KEY")
_header = APIKeyHeader(name="x-api-key", auto_error=False,
                       description="An API key, as the Anthropic SDK sends it")


def service_of(request: Request) -> Service:
    found: Service = request.app.state.service
    return found


def quotas_of(request: Request) -> Quotas:
    found: Quotas = request.app.state.quotas
    return found


def require(role: Role | None) -> Callable[..., AsyncIterator[Caller]]:
    """A dependency admitting callers of `role` (or admin) within their key's limits,
    holding a slot until the request ends; None admits any valid key."""

    async def guard(request: Request,
                    bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
                    header: Annotated[str | None, Depends(_header)]
                    ) -> AsyncIterator[Caller]:
        presented = (bearer.credentials if bearer else "") or (header or "")
        if not presented:
            raise ApiError(401, "no API key: send Authorization: Bearer KEY or x-api-key: KEY",
                           code="missing_api_key")
        caller = service_of(request).keys.identify(presented.strip())
        if caller is None:
            raise ApiError(401, "the API key is not valid for this service",
                           code="invalid_api_key")
        if role is not None and not caller.may(role):
            raise ApiError(403, f"the key {caller.name!r} has the {caller.role} role; this "
                           f"route needs the {role} role", code="wrong_role")
        request.state.caller = caller
        with quotas_of(request).admit(caller):
            yield caller

    return guard


def bound(caller: Caller, constitution: str | None, *, param: str) -> str | None:
    """The constitution a request may use: as asked if the key may use it (none asked: a
    bound key's first, else the service's default); any other is a 403."""
    allowed = caller.binding.constitutions
    if not constitution:
        return allowed[0] if allowed else constitution
    if caller.may_use(constitution):
        return constitution
    raise ApiError(403, f"the key of app {caller.name!r} may use the constitution(s) "
                   f"{', '.join(allowed)}, not {constitution!r}; use one of those, or ask an "
                   "admin to add it to the key's constitutions= in SUPERVISOR_API_KEYS",
                   param=param, code="constitution_not_allowed")


def recorded_app(request: Request, caller: Caller, given: str | None, *, param: str
                 ) -> dict[str, str]:
    """`app_id` (and `app_label`) for a decision: the key's app, narrowed by the caller's
    name for itself only as a label; another key's name is a 403."""
    label = (given or "").strip()
    if not label or label == caller.name:
        return {"app_id": caller.name}
    if label in service_of(request).keys.apps():
        raise ApiError(403, f"{param} {label!r} is another key's app; decisions made with "
                       f"the key {caller.name!r} are recorded under its own app: omit "
                       f"{param}, or give a label of your own", param=param,
                       code="app_not_allowed")
    if caller.binding.given:
        return {"app_id": caller.name, "app_label": label}
    return {"app_id": label}


KeyCaller = Annotated[Caller, Depends(require(None))]
AppCaller = Annotated[Caller, Depends(require("app"))]
AuditorCaller = Annotated[Caller, Depends(require("auditor"))]
AdminCaller = Annotated[Caller, Depends(require("admin"))]
async def _service(request: Request) -> Service:
    """`service_of` as a dependency: a sync one would send every request through a worker
    thread first (FastAPI runs sync dependencies in its thread pool)."""
    return service_of(request)


ServiceDep = Annotated[Service, Depends(_service)]
