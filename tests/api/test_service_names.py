"""The service's supervisor model is `supervisor_model`; `judge=` is its old name."""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest

from api.keys import Keys
from api.service import Service
from supervisor.constitution import load_constitution
from supervisor.ledger import open_ledger
from supervisor.providers.fake import FakeProvider
from supervisor.settings import Settings


async def test_the_supervisor_model_reaches_every_supervisor_the_service_builds(
        tmp_path: Path) -> None:
    """`supervisor_model=` is what each request's Supervisor judges with, without a
    warning; `judge=` gives the same with a DeprecationWarning."""
    settings = Settings(ledger=str(tmp_path / "l"))
    ledger = await open_ledger(settings=settings)
    model = FakeProvider(name="fake:judge")
    base = load_constitution("base")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            service = Service(settings, keys=Keys([]), ledger=ledger, supervisor_model=model)
        assert service.supervisor(base).supervisor is model
        with pytest.warns(DeprecationWarning, match="pass supervisor_model="):
            old = Service(settings, keys=Keys([]), ledger=ledger, judge=model)
        assert old.supervisor_model is model and old.supervisor(base).supervisor is model
    finally:
        await ledger.close()
