"""W3C trace context on the HTTP routes: an app team's trace continues into ours.

When tracing is on (SUPERVISOR_TRACING=otlp, or `supervisor.tracing.enable`), a request's
`traceparent` header (with its `tracestate`) is the parent of the supervision's root span,
so the caller's tracing system shows our detectors, judge call and ledger append inside
its own trace. A malformed or missing `traceparent` is ignored, as the W3C recommendation
says: the supervision starts a trace of its own. With tracing off the middleware passes
the request through and imports nothing of OpenTelemetry.

Plain ASGI, like `api.limits`: the context stays attached while the route runs and while
a streamed answer is sent.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from starlette.types import ASGIApp, Receive, Scope, Send

from supervisor import tracing

if TYPE_CHECKING:
    from opentelemetry.context import Context

HEADERS = (b"traceparent", b"tracestate")


class TraceContext:
    """Continue the caller's trace (W3C `traceparent`) while a request is handled."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not tracing.enabled():
            await self.app(scope, receive, send)
            return
        carrier = {name.decode("latin-1"): value.decode("latin-1")
                   for name, value in scope["headers"] if name in HEADERS}
        if "traceparent" not in carrier:
            await self.app(scope, receive, send)
            return
        from opentelemetry import context

        token = context.attach(extract(carrier))
        try:
            await self.app(scope, receive, send)
        finally:
            context.detach(token)


def extract(carrier: Mapping[str, str]) -> Context:
    """The OpenTelemetry context the W3C trace-context headers in `carrier` describe."""
    from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

    return TraceContextTextMapPropagator().extract(carrier=carrier)
