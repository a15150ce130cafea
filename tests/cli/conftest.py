"""Run the CLI in-process (spaCy loads once) against a temporary ledger."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from supervisor.cli import main


@dataclass(frozen=True)
class Result:
    code: int
    out: str
    err: str


Run = Callable[..., Result]


@pytest.fixture
def ledger_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "audit_logs"
    monkeypatch.setenv("SUPERVISOR_LEDGER", str(path))
    monkeypatch.delenv("SUPERVISOR_SUPERVISOR_MODEL", raising=False)
    return path


@pytest.fixture
def run(ledger_dir: Path, capsys: pytest.CaptureFixture[str]) -> Run:
    def invoke(*argv: str) -> Result:
        capsys.readouterr()
        try:
            main(list(argv))
            code = 0
        except SystemExit as exc:
            code = int(exc.code or 0)
        captured = capsys.readouterr()
        return Result(code, captured.out, captured.err)
    return invoke
