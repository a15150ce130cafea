"""The baseline for bench/http.py: a bare FastAPI `/v1/moderations` doing no supervision.

Same framework, server and request/response shape as the real service, so the difference
measured is what supervision (detectors, policy, durable ledger) costs.

    uvicorn --factory bench.bare_app:create --port 8100
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from pydantic import BaseModel


class Request(BaseModel):
    input: str | list[str]
    model: str | None = None


def create() -> FastAPI:
    app = FastAPI()

    @app.post("/v1/moderations")
    async def moderate(body: Request) -> dict[str, Any]:
        texts = [body.input] if isinstance(body.input, str) else body.input
        return {"id": "modr-bare", "model": body.model or "none",
                "results": [{"flagged": False, "categories": {}, "category_scores": {}}
                            for _ in texts]}

    return app
