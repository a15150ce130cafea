"""Disguised identifiers: found by healthcare's checks, gone from the answer and the ledger.

Each form reads as the SSN 536-22-8193 to a person (look-alike dashes, full-width digits,
zero-width characters inside, digits spaced out, slashes). The supervisor runs with its
local detectors only (no judge) and writes to a real JSONL ledger under the
constitution's `store_text: redacted`.
"""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from supervisor.constitution import load_constitution
from supervisor.decision import Action
from supervisor.detectors.normal import INVISIBLE, normalise
from supervisor.ledger import Ledger, open_ledger
from supervisor.pipeline import Supervisor
from supervisor.settings import Settings

pytestmark = pytest.mark.slow

DIGITS = "536228193"
DISGUISES = {
    "non-breaking hyphen": "536\u201122\u20118193",
    "hyphen": "536\u201022\u20108193",
    "en dash": "536\u201322\u20138193",
    "minus sign": "536\u221222\u22128193",
    "small hyphen-minus": "536\ufe6322\ufe638193",
    "full-width digits": "\uff15\uff13\uff16-\uff12\uff12-\uff18\uff11\uff19\uff13",
    "zero-width space": "53\u200b6-22-81\u200b93",
    "zero-width non-joiner": "536\u200c-22-8193",
    "zero-width joiner": "5\u200d36-2\u200d2-8193",
    "word joiner": "536-2\u20602-819\u20603",
    "byte order mark": "53\ufeff6-22-\ufeff8193",
    "spaced digits": "5 3 6 - 2 2 - 8 1 9 3",
    "slashes": "536/22/8193",
}


def leaks(text: str) -> bool:
    """Whether the SSN's digits can still be read in `text`, in any of the disguises."""
    return DIGITS in re.sub(r"[\s\-/.]", "", normalise(text).text)


@pytest.fixture
async def ledger(tmp_path: Path) -> AsyncIterator[Ledger]:
    settings = Settings(ledger=str(tmp_path / "ledger"), checkpoint_every=1000,
                        checkpoint_seconds=3600)
    opened = await open_ledger(str(tmp_path / "ledger"), settings=settings)
    yield opened
    await opened.close()


def stored(ledger: Ledger) -> str:
    """Every record as JSON text with its characters as written (not \\u escapes)."""
    return "\n".join(json.dumps(json.loads(line), ensure_ascii=False)
                     for line in ledger.store.lines())


@pytest.mark.parametrize("form", DISGUISES.values(), ids=DISGUISES.keys())
async def test_a_disguised_ssn_is_redacted_in_the_answer_and_the_ledger(
        ledger: Ledger, form: str) -> None:
    """healthcare revises an answer holding a disguised SSN, the released answer holds
    none of its characters, and the stored record holds no readable form of it."""
    supervisor = Supervisor(load_constitution("healthcare"), ledger=ledger)
    answer = f"The patient with number {form} was seen today for a follow up."
    decision = await supervisor.check_output(answer, prompt="Who was seen today?")
    assert decision.action is Action.REVISE
    assert "phi-disclosure" in {p for r in decision.revisions for p in r.principles}
    assert not any(c.isdigit() or INVISIBLE.match(c) for c in decision.output)
    assert decision.output == ("The patient with number <US_SSN> was seen today for a "
                               "follow up.")
    text = stored(ledger)
    assert "<US_SSN>" in text and not leaks(text)


@pytest.mark.parametrize("form", DISGUISES.values(), ids=DISGUISES.keys())
async def test_a_disguised_ssn_in_a_prompt_is_removed_before_it_leaves(
        ledger: Ledger, form: str) -> None:
    """The input stage finds a disguised SSN in the prompt too, and the ledger keeps the
    prompt only redacted."""
    supervisor = Supervisor(load_constitution("healthcare"), ledger=ledger)
    decision = await supervisor.check_input(f"Can you check the coverage of {form} please?")
    assert decision.action is Action.REVISE
    assert not leaks(decision.output)
    assert not leaks(stored(ledger))
