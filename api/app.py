"""The FastAPI app factory: `create_app(service)` assembles routes, guards and handlers.

Tests pass a Service built from fakes; `supervisor serve` passes `Service.configured()`
(or, with several workers, each worker calls `from_environment`). The lifespan opens the
ledger and loads the constitutions before the first request, and on shutdown (SIGTERM,
Ctrl-C) flushes and checkpoints the ledger.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from api import console, errors
from api.limits import Limits
from api.quotas import Quotas
from api.routes import audit, chat, messages, moderation, proposals, supervise, system
from api.service import Service
from api.tracing import TraceContext
from supervisor import tracing

VERSION = "1"


def create_app(service: Service | None = None) -> FastAPI:
    """The HTTP service over `service` (default: configured from the environment)."""
    chosen = service or Service.configured()
    tracing.configure(chosen.settings.tracing)  # SUPERVISOR_TRACING; off: nothing

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await chosen.start()
        try:
            yield
        finally:
            await chosen.close()

    app = FastAPI(title="Constitutional supervisor", version=VERSION, lifespan=lifespan,
                  description="Moderation, supervision, OpenAI- and Anthropic-compatible "
                              "supervising proxies, and the audit ledger.")
    app.state.service = chosen
    app.state.quotas = Quotas.configured(chosen.settings, chosen.metrics)  # per-key limits
    for module in (moderation, supervise, chat, messages, audit, proposals, system):
        app.include_router(module.router)
    app.include_router(console.router)
    errors.install(app)
    app.add_middleware(Limits, max_body_bytes=chosen.settings.max_body_bytes,
                       observe=chosen.metrics.http)
    app.add_middleware(TraceContext)  # a caller's W3C traceparent is our root's parent
    return app


def from_environment() -> FastAPI:
    """For `uvicorn --factory` (several workers): each worker builds its own app and logs."""
    from api.logs import configure
    from supervisor.settings import current

    configure(current().log_level)
    return create_app()
