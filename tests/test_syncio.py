"""Sync entry points work from plain code and from inside a running loop (a notebook cell).

Each `async def` test calls the sync API directly, as a Jupyter cell does while the
kernel's loop runs; before `run_sync`, `asyncio.run` refused with "cannot be called from
a running event loop".
"""

from __future__ import annotations

import asyncio
import json
import textwrap
import threading
from pathlib import Path

import pytest

from supervisor.cli import main
from supervisor.constitution import Constitution, load_constitution
from supervisor.decision import Action
from supervisor.ledger import Ledger, open_ledger
from supervisor.pipeline import Supervisor
from supervisor.providers.fake import FakeProvider
from supervisor.syncio import run_sync

RULES = """\
id: sync-test
version: 1.0.0
defaults: {store_text: full}
principles:
  - id: no-dose-doubling
    statement: The answer never tells anyone to double a dose.
    action: block
    citations: [test]
    checks:
      - pattern: {regex: ['double your dose']}
"""


@pytest.fixture
def rules_path(tmp_path: Path) -> Path:
    path = tmp_path / "sync-test.yaml"
    path.write_text(textwrap.dedent(RULES))
    return path


@pytest.fixture
def rules(rules_path: Path) -> Constitution:
    return load_constitution(rules_path)


async def _where() -> tuple[str, int]:
    await asyncio.sleep(0)
    return threading.current_thread().name, id(asyncio.get_running_loop())


async def _fail() -> None:
    raise KeyError("inside")


def test_run_sync_from_plain_code_uses_this_thread() -> None:
    """Without a running loop, run_sync is asyncio.run on the calling thread."""
    name, _ = run_sync(_where())
    assert name == threading.current_thread().name


async def test_run_sync_inside_a_running_loop_returns_the_result() -> None:
    """Inside a running loop, the coroutine runs on another loop and its result comes back."""
    name, loop_id = run_sync(_where())
    assert loop_id != id(asyncio.get_running_loop())
    assert name.startswith("supervisor-sync")


async def test_run_sync_inside_a_running_loop_raises_the_coroutines_error() -> None:
    """An exception raised by the coroutine reaches the sync caller unchanged."""
    with pytest.raises(KeyError, match="inside"):
        run_sync(_fail())


def _supervisor(rules: Constitution, answer: str, ledger: Ledger | None = None) -> Supervisor:
    return Supervisor(rules, primary=FakeProvider([answer], name="fake:primary"),
                      ledger=ledger)


def test_supervise_sync_from_plain_code(rules: Constitution) -> None:
    """supervise_sync in a script: the primary is called and the answer checked."""
    decision = _supervisor(rules, "Take one tablet.").supervise_sync(prompt="Dose?")
    assert decision.action is Action.ALLOW and decision.output == "Take one tablet."


async def test_supervise_sync_inside_a_running_loop(rules: Constitution) -> None:
    """supervise_sync in a notebook cell: no 'asyncio.run() cannot be called' error."""
    decision = _supervisor(rules, "Just double your dose.").supervise_sync(prompt="Dose?")
    assert decision.action is Action.BLOCK and not decision.released


async def test_supervise_sync_inside_a_loop_records_each_call_in_one_ledger(
        rules: Constitution, tmp_path: Path) -> None:
    """Two sync supervisions from a cell append to the same ledger, which still verifies."""
    ledger = await open_ledger(str(tmp_path / "audit_logs"))
    supervisor = _supervisor(rules, "Take one tablet.", ledger)
    first = supervisor.supervise_sync(prompt="Dose?")
    second = supervisor.supervise_sync(output="Rest and fluids.", prompt="Cold?")
    assert first.record_id and second.record_id and first.record_id != second.record_id
    kinds = [r["kind"] for r in ledger.records_in_order()]
    assert kinds.count("decision") == 2  # no input principles: one output record each
    await ledger.checkpoint()
    assert ledger.verify().ok


def _cli(*argv: str) -> int:
    try:
        main(list(argv))
    except SystemExit as exc:
        return int(exc.code or 0)
    return 0


async def test_cli_commands_run_inside_a_running_loop(
        rules_path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    """`supervisor check` and `audit verify` called in-process from a cell both finish."""
    monkeypatch.setenv("SUPERVISOR_LEDGER", str(tmp_path / "cli_logs"))
    monkeypatch.delenv("SUPERVISOR_SUPERVISOR_MODEL", raising=False)
    code = _cli("check", "--json", "-c", str(rules_path), "Just double your dose.")
    decision = json.loads(capsys.readouterr().out)
    assert decision["action"] == "block" and code == Action.BLOCK.exit_code
    assert _cli("audit", "verify", "--allow-unsigned-tail", "10") == 0
