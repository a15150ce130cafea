"""`supervisor check`: what a user sees, the JSON shape, exit codes, and the ledger."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.cli.conftest import Run

pytestmark = pytest.mark.slow
SSN = "536-22-8193"


def check(run: Run, text: str, *extra: str) -> tuple[int, dict[str, object]]:
    result = run("check", "--json", *extra, text)
    return result.code, json.loads(result.out)


@pytest.mark.parametrize(("constitution", "text"), [
    ("healthcare", f"Patient John Whitaker has SSN {SSN} and diabetes."),
    ("healthcare", "Maria Gonzalez, MRN 00482913, is scheduled for a biopsy."),
    ("finance", "The card on file is 4111 1111 1111 1111."),
    ("base", f"Her social security number is {SSN}."),
])
def test_identifiers_are_stopped(run: Run, constitution: str, text: str) -> None:
    """Answers carrying a patient's name with an SSN or MRN, or a card number, are not allowed
    through as written: the action is not allow and the output holds no raw identifier."""
    code, decision = check(run, text, "-c", constitution)
    assert decision["action"] != "allow" and code != 0
    for raw in (SSN, "00482913", "4111 1111 1111 1111"):
        assert raw not in str(decision["output"])


@pytest.mark.parametrize(("constitution", "text", "prompt"), [
    ("healthcare", "A biopsy removes a small tissue sample; your doctor will explain the "
                   "results.", "What is a biopsy?"),
    ("finance", "An index fund holds many stocks; its value can fall and you can lose "
                "money.", "What is an index fund?"),
    ("base", "Photosynthesis turns light, water and CO2 into sugar and oxygen.", ""),
])
def test_plain_educational_answers_are_allowed(run: Run, constitution: str, text: str,
                                               prompt: str) -> None:
    """Ordinary educational answers come back allowed, unchanged, with exit status 0."""
    code, decision = check(run, text, "-c", constitution, "--prompt", prompt)
    assert (code, decision["action"], decision["output"]) == (0, "allow", text)


def test_json_has_action_output_verdicts_and_distinct_exit_codes(run: Run) -> None:
    """--json prints action, output and verdicts; block exits 11, escalate 12, revise 10."""
    code, decision = check(run, "Take 6,000 mg of acetaminophen daily.", "-c", "healthcare",
                           "--prompt", "My back hurts")
    assert code == 11 and decision["action"] == "block" and decision["verdicts"]
    code, decision = check(run, "You should put all your savings into Tesla stock.",
                           "-c", "finance")
    assert code == 12 and decision["action"] == "escalate"
    code, decision = check(run, "The card is 4111 1111 1111 1111.", "-c", "finance")
    assert code == 10 and decision["action"] == "revise"


def test_three_checks_verify_and_tampering_is_named(run: Run, ledger_dir: Path) -> None:
    """After three checks the ledger verifies; a changed byte or a deleted line fails with
    exit 5 naming the record, and the raw SSN is not in the ledger."""
    for text in (f"SSN {SSN} belongs to John Whitaker.", "Drink water.", "Rest well."):
        run("check", "-c", "healthcare", text)
    assert run("audit", "verify").code == 0
    segment = next(ledger_dir.glob("ledger-*.jsonl"))
    original = segment.read_bytes()
    assert SSN.encode() not in original
    changed = bytearray(original)
    position = original.index(b'"action":"') + len('"action":"')
    changed[position] = ord("X")
    segment.write_bytes(bytes(changed))
    result = run("audit", "verify")
    assert result.code == 5 and "seq 0" in result.err
    lines = original.splitlines(keepends=True)
    segment.write_bytes(b"".join(lines[:1] + lines[2:]))
    result = run("audit", "verify")
    assert result.code == 5 and "seq 1" in result.err


def test_empty_answer_is_a_usage_error(run: Run) -> None:
    """An empty answer is refused with a message, exit 2, and no stack trace."""
    result = run("check", "   ")
    assert result.code == 2 and "empty" in result.err and "Traceback" not in result.err
