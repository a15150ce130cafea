"""The error handlers every route shares (`api.errors.install`), on a bare FastAPI app."""

from __future__ import annotations

import hashlib

import httpx2
import pytest
from fastapi import FastAPI

from api.errors import install

LONE = "\ud800"


def _app() -> FastAPI:
    app = FastAPI()
    install(app)

    @app.post("/v1/answer")
    async def answer() -> dict[str, str]:
        return {"text": LONE}  # pydantic's JSON serialiser meets it

    @app.post("/v1/hash")
    async def digest() -> dict[str, str]:
        return {"sha256": hashlib.sha256(LONE.encode("utf-8")).hexdigest()}  # the codec does

    return app


@pytest.mark.parametrize("path", ["/v1/answer", "/v1/hash"])
async def test_lone_surrogate_that_slips_past_a_route_is_a_400_not_a_500(path: str) -> None:
    """A route with no check of its own still answers 400 saying what to send."""
    transport = httpx2.ASGITransport(app=_app(), raise_app_exceptions=False)
    async with httpx2.AsyncClient(transport=transport, base_url="http://test") as client:
        response = await client.post(path)
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "invalid_text" and "lone UTF-16 surrogate" in error["message"]
