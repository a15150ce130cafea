"""Decision records keep texts only as store_text allows; redacted never leaks an SSN."""

from __future__ import annotations

import json

import pytest

from supervisor.constitution import load_constitution
from supervisor.ledger import Ledger
from supervisor.pipeline import Supervisor

SSN = "536-22-8193"
ANSWER = f"Patient John Whitaker, SSN {SSN}, MRN 00482913, was treated for pneumonia."


async def decide_and_record(ledger: Ledger, store_text: str) -> dict[str, object]:
    sup = Supervisor(load_constitution("healthcare"))
    decision = await sup.check_output(ANSWER, prompt="Who was treated?")
    record_id = await ledger.record(decision, store_text=store_text)
    record = ledger.get(record_id)
    assert record is not None
    return record


@pytest.mark.slow
async def test_redacted_record_keeps_no_identifier(ledger: Ledger) -> None:
    """Under store_text: redacted, the SSN, MRN and name appear nowhere in the ledger."""
    record = await decide_and_record(ledger, "redacted")
    stored = b"\n".join(ledger.store.lines()).decode()
    for raw in (SSN, "00482913", "John Whitaker"):
        assert raw not in stored
    assert "<US_SSN>" in record["body"]["texts"]["original"]  # type: ignore[index]


@pytest.mark.slow
async def test_none_keeps_only_hashes_and_full_keeps_text(ledger: Ledger) -> None:
    """store_text none stores hashes only; full stores the text as it was."""
    none = await decide_and_record(ledger, "none")
    assert none["body"]["texts"] is None  # type: ignore[index]
    assert len(none["body"]["text_sha256"]["original"]) == 64  # type: ignore[index]
    full = await decide_and_record(ledger, "full")
    assert SSN in json.dumps(full["body"]["texts"])  # type: ignore[index]


def test_the_export_filter_reads_dates_versions_and_revised_principles() -> None:
    """The filter the CLI, the API and the console share: a bare `until` date keeps that
    whole day, `id@version` narrows a constitution, a principle revised away still fired."""
    from supervisor.ledger.export import Filter

    record = {"ts": "2026-11-23T15:04:05.000001Z", "kind": "decision",
              "body": {"action": "revise", "violated": [],
                       "revisions": [{"principles": ["phi-disclosure"]}],
                       "provenance": {"constitution": {"id": "healthcare", "version": "2.1.0"}},
                       "context": {}}}
    assert Filter(until="2026-11-23")(record)
    assert not Filter(until="2026-11-22")(record)
    assert Filter(principle="phi-disclosure")(record)
    assert Filter(constitution="healthcare@2.1.0")(record)
    assert not Filter(constitution="healthcare@2.0.0")(record)
