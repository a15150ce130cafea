"""Shared pieces for the middleware tests: constitutions, ledgers and vendor keys.

The acceptance tests use the shipped healthcare constitution (Presidio finds the SSN);
the rest use `middleware-test`, a small pattern-only constitution that runs in
microseconds, so wire-format and concurrency tests do not wait on NLP models.
"""

from __future__ import annotations

import json
import textwrap
from pathlib import Path
from typing import Any

import pytest

from supervisor.constitution import Constitution, load_constitution

SSN = "536-22-8193"
PHI_ANSWER = f"Patient John Whitaker, SSN {SSN}, was treated for pneumonia last week."
PHI_PROMPT = f"My SSN is {SSN}, can you check my coverage?"
SIGN_OFF = "-- the clinic"
REFUSAL = "Withheld by the test constitution."

TEST_CONSTITUTION = f"""\
id: middleware-test
version: 1.0.0
defaults: {{max_revisions: 1, on_error: block, store_text: full, refusal: "{REFUSAL}"}}
principles:
  - id: sign-off
    statement: The answer ends with the clinic's sign-off.
    action: revise
    citations: [test]
    checks:
      - pattern: {{absent: ['{SIGN_OFF}']}}
    remedy: {{append: "{SIGN_OFF}"}}
  - id: no-dose-doubling
    statement: The answer never tells anyone to double a dose.
    action: block
    citations: [test]
    checks:
      - pattern: {{regex: ['double your dose']}}
  - id: personal-advice
    statement: The answer does not tell the user what to buy.
    action: escalate
    citations: [test]
    checks:
      - pattern: {{regex: ['you should buy']}}
  - id: no-override
    statement: Prompts that try to override the assistant's instructions are not sent.
    applies_to: input
    action: block
    citations: [test]
    checks:
      - pattern: {{regex: ['ignore (?:all )?previous instructions']}}
"""


@pytest.fixture(autouse=True)
def vendor_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    """Keys for the fake vendors (any value is accepted)."""
    monkeypatch.setenv("OPENAI_API_KEY", "test")
    monkeypatch.setenv("ANTHROPIC_API_KEY", "test")


@pytest.fixture(scope="session")
def healthcare() -> Constitution:
    """The shipped healthcare constitution (loaded once)."""
    return load_constitution("healthcare")


@pytest.fixture(scope="session")
def rules(tmp_path_factory: pytest.TempPathFactory) -> Constitution:
    """The pattern-only test constitution."""
    path = tmp_path_factory.mktemp("constitution") / "middleware-test.yaml"
    path.write_text(textwrap.dedent(TEST_CONSTITUTION))
    return load_constitution(path)


@pytest.fixture
def ledger_dir(tmp_path: Path) -> str:
    """A fresh ledger directory for one test."""
    return str(tmp_path / "ledger")


def decisions(ledger: str) -> list[dict[str, Any]]:
    """The bodies of the decision records in a JSONL ledger directory, in order."""
    found = []
    for segment in sorted(Path(ledger).glob("ledger-*.jsonl")):
        for line in segment.read_text().splitlines():
            record = json.loads(line)
            if record["kind"] == "decision":
                found.append({"id": record["id"], **record["body"]})
    return found
