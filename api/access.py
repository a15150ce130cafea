"""Route guards: which role a route needs, and who is calling.

A key arrives as `Authorization: Bearer KEY` (the OpenAI SDK) or `x-api-key: KEY` (the
Anthropic SDK). Both schemes are declared to FastAPI so the OpenAPI document says how to
authenticate. No key or an unknown key is 401; a known key of the wrong role is 403.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer

from api.errors import ApiError
from api.keys import Caller, Role
from api.service import Service

_bearer = HTTPBearer(auto_error=False, description="An API key: Authorization: Bearer KEY")
_header = APIKeyHeader(name="x-api-key", auto_error=False,
                       description="An API key, as the Anthropic SDK sends it")


def service_of(request: Request) -> Service:
    found: Service = request.app.state.service
    return found


def require(role: Role | None) -> Callable[..., Coroutine[Any, Any, Caller]]:
    """A dependency admitting callers of `role` (or admin); None admits any valid key."""

    async def guard(request: Request,
                    bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
                    header: Annotated[str | None, Depends(_header)]) -> Caller:
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
        return caller

    return guard


KeyCaller = Annotated[Caller, Depends(require(None))]
AppCaller = Annotated[Caller, Depends(require("app"))]
AuditorCaller = Annotated[Caller, Depends(require("auditor"))]
AdminCaller = Annotated[Caller, Depends(require("admin"))]
ServiceDep = Annotated[Service, Depends(service_of)]
