"""Fixtures for ledger tests: a fresh JSONL ledger in a temporary directory."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from supervisor.ledger import Ledger, open_ledger
from supervisor.settings import Settings


def settings_for(path: Path, every: int = 1000) -> Settings:
    return Settings(ledger=str(path), checkpoint_every=every, checkpoint_seconds=3600)


@pytest.fixture
async def ledger(tmp_path: Path) -> AsyncIterator[Ledger]:
    opened = await open_ledger(str(tmp_path / "ledger"),
                               settings=settings_for(tmp_path / "ledger"))
    yield opened
    await opened.close()
