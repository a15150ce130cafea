"""The service's JSON log honours its level: `serve --log-level warning` drops request lines."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
import structlog

from api.logs import configure


@pytest.fixture
def restored() -> Iterator[None]:
    """structlog's configuration is process-wide: put back what the other tests use."""
    saved = structlog.get_config()
    try:
        yield
    finally:
        structlog.configure(**saved)


@pytest.mark.parametrize(("level", "shown"), [
    ("warning", ["warning", "error"]),
    ("info", ["info", "warning", "error"]),
    ("debug", ["debug", "info", "warning", "error"]),
])
def test_lines_below_the_level_are_not_written(restored: None, level: str, shown: list[str],
                                               capsys: pytest.CaptureFixture[str]) -> None:
    configure(level)
    log = structlog.get_logger("test")
    for method in ("debug", "info", "warning", "error"):
        getattr(log, method)("request", path="/v1/moderations")
    lines = [json.loads(line) for line in capsys.readouterr().err.splitlines() if line]
    assert [line["level"] for line in lines] == shown
    assert all(line["event"] == "request" and "timestamp" in line for line in lines)
