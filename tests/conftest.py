"""Every test's verify state and vector cache go to its own temporary folder, never the
user's cache."""

from __future__ import annotations

from pathlib import Path

import pytest

from supervisor.cache import CACHE_DIR
from supervisor.ledger.verify_state import STATE_DIR


@pytest.fixture(autouse=True)
def verify_state_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """`audit verify` saves where it got to; here, inside the test's tmp_path."""
    folder = tmp_path / "verify-state"
    monkeypatch.setenv(STATE_DIR, str(folder))
    return folder


@pytest.fixture(autouse=True)
def vector_cache_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Exemplar vectors and the traced encoder are cached on disk; here, in tmp_path."""
    folder = tmp_path / "cache"
    monkeypatch.setenv(CACHE_DIR, str(folder))
    return folder
