"""The two example apps run as a user would run them, on the embedded local model."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def run_example(name: str, ledger: Path) -> str:
    """Run examples/NAME with its own ledger directory; return what it printed."""
    env = {**os.environ, "SUPERVISOR_LEDGER": str(ledger)}
    done = subprocess.run([sys.executable, str(EXAMPLES / name)], env=env, cwd=ledger.parent,
                          capture_output=True, text=True, timeout=600, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


@pytest.mark.slow
def test_clinic_assistant_shows_allowed_revised_and_blocked(tmp_path: Path) -> None:
    """The clinic example redacts the prompt's SSN, revises PHI and blocks an overdose."""
    out = run_example("clinic_assistant.py", tmp_path / "ledger")
    assert "ledger/output allow" in out or "ledger/output revise" in out  # the live answer
    assert "vendor got    My SSN is <US_SSN>." in out
    assert "<PERSON> (MRN <MEDICAL_RECORD_NUMBER>)" in out
    (withheld,) = [line for line in out.splitlines() if "withheld" in line]
    assert "block:" in withheld and "dosing-limits" in withheld  # base's self-harm may join
    assert "536-22-8193" not in out.split("vendor got")[1].split("\n")[0]


@pytest.mark.slow
def test_advisor_bot_shows_allowed_revised_and_escalated(tmp_path: Path) -> None:
    """The advisor example (Anthropic middleware) masks a card number and escalates advice."""
    out = run_example("advisor_bot.py", tmp_path / "ledger")
    assert "card number <CREDIT_CARD> saved" in out
    assert "withheld      escalate: personalised-recommendation" in out
    assert (tmp_path / "ledger" / "checkpoints.jsonl").is_file()  # closed cleanly at exit
