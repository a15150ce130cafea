"""A pattern-only constitution in two versions, and ledgers of its decisions.

Version 1.0.0 and 1.1.0 differ in one principle: `no-guarantees` also matches
"risk-free" in 1.1.0. Nothing here loads a model, so replays run in milliseconds.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Sequence
from pathlib import Path

import pytest

from supervisor.constitution import load_constitution
from supervisor.ledger import open_ledger
from supervisor.ledger.records import decision_body
from supervisor.pipeline import Supervisor
from supervisor.settings import Settings
from tests.cli import conftest as cli

CONSTITUTION = """\
id: replaytest
version: {version}
defaults: {{store_text: {store_text}}}
principles:
  - id: no-guarantees
    statement: The answer never promises guaranteed investment returns.
    action: block
    citations: ["test policy 1"]
    checks: [{{pattern: {{phrases: [{phrases}]}}}}]
  - id: no-insider
    statement: The answer never passes on insider information.
    action: escalate
    citations: ["test policy 2"]
    checks: [{{pattern: {{phrases: ["insider tip"]}}}}]
  - id: risk-disclaimer
    statement: An answer about crypto says that crypto assets are volatile.
    action: revise
    citations: ["test policy 3"]
    checks: [{{pattern: {{absent: ["volatile"], when_prompt: ["crypto"]}}}}]
    remedy: {{append: "Crypto assets are volatile."}}
{extra}"""

PII_PRINCIPLE = """\
  - id: no-ssn
    statement: The answer never shows a social security number.
    action: block
    citations: ["test policy 4"]
    checks: [{pii: {entities: [US_SSN]}}]
"""

# (prompt, answer): what each does under 1.0.0 -> 1.1.0 is in the comment
TRAFFIC = (
    ("What should I buy?", "Index funds are a reasonable start."),  # allow -> allow
    ("Is this fund safe?", "This fund is risk-free."),  # allow -> block
    ("Tell me more", "We offer guaranteed returns."),  # block -> block
    ("Any tips?", "Here is an insider tip: buy ACME."),  # escalate -> escalate
    ("Should I buy crypto?", "Crypto can be a fine holding."),  # revise -> revise
    ("Should I buy crypto?", "Crypto is risk-free."),  # revise -> block
    ("Insider news?", "An insider tip: it is risk-free."),  # escalate -> block
    ("Hi", "Hello, how can I help?"),  # allow -> allow
)
FLIPS = {1: ("allow", "block"), 5: ("revise", "block"), 6: ("escalate", "block")}


def write_constitution(folder: Path, version: str, *, store_text: str = "full",
                       pii: bool = False) -> Path:
    phrases = '"guaranteed returns", "risk-free"' if version == "1.1.0" \
        else '"guaranteed returns"'
    path = folder / f"replaytest-{version}{'-pii' if pii else ''}-{store_text}.yaml"
    path.write_text(CONSTITUTION.format(version=version, store_text=store_text,
                                        phrases=phrases, extra=PII_PRINCIPLE if pii else ""))
    return path


def settings_for(path: Path) -> Settings:
    return Settings(ledger=str(path), checkpoint_every=100_000, checkpoint_seconds=3600)


def fake_redact(text: str) -> str:
    """Stands in for Presidio: replaces SSNs, as the stored redacted text would have them."""
    return re.sub(r"\b\d{3}-\d{2}-\d{4}\b", "<US_SSN>", text)


def build_ledger(path: Path, constitution: Path, traffic: Sequence[tuple[str, str]], *,
                 store_text: str | None = None) -> None:
    """Supervise `traffic` under `constitution` and record each decision, as the service
    would; `store_text` overrides the constitution's (redacted uses `fake_redact`)."""
    async def build() -> None:
        ledger = await open_ledger(str(path), settings=settings_for(path))
        supervisor = Supervisor(load_constitution(constitution))
        for prompt, answer in traffic:
            decision = await supervisor.check_output(answer, prompt=prompt)
            body = decision_body(decision, store_text=store_text or "full",
                                 redact=fake_redact)
            await ledger.append("decision", body)
        await ledger.close()

    asyncio.run(build())


ledger_dir = cli.ledger_dir  # the CLI tests' fixtures: a temporary SUPERVISOR_LEDGER
run = cli.run  # and the CLI run in-process


@pytest.fixture
def versions(tmp_path: Path) -> tuple[Path, Path]:
    """Paths of 1.0.0 and 1.1.0."""
    return write_constitution(tmp_path, "1.0.0"), write_constitution(tmp_path, "1.1.0")


@pytest.fixture
def traffic_ledger(ledger_dir: Path, versions: tuple[Path, Path]) -> Path:
    """The TRAFFIC decided under 1.0.0, full texts stored."""
    build_ledger(ledger_dir, versions[0], TRAFFIC)
    return ledger_dir

