"""Decision records keep texts, metadata and rationales only as store_text allows."""

from __future__ import annotations

import json

import pytest

from supervisor.constitution import load_constitution
from supervisor.decision import Action, Decision, Provenance, Verdict
from supervisor.ledger import Ledger
from supervisor.ledger.canonical import text_hash
from supervisor.ledger.records import decision_body
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
    # a record's body is untyped JSON
    assert "<US_SSN>" in record["body"]["texts"]["original"]  # type: ignore[index]


@pytest.mark.slow
async def test_none_keeps_only_hashes_and_full_keeps_text(ledger: Ledger) -> None:
    """store_text none stores hashes only; full stores the text as it was."""
    none = await decide_and_record(ledger, "none")
    # a record's body is untyped JSON
    assert none["body"]["texts"] is None  # type: ignore[index]
    # a record's body is untyped JSON
    assert len(none["body"]["text_sha256"]["original"]) == 64  # type: ignore[index]
    full = await decide_and_record(ledger, "full")
    # a record's body is untyped JSON
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


EMAIL = "jane.doe@example.org"
QUOTED = f"The answer names {SSN} and {EMAIL}."


def decision_with_metadata() -> Decision:
    """An allowed answer whose request context and judge rationale quote an SSN and an
    e-mail address (as an OpenAI `user` or a `/v1/supervise` context can)."""
    return Decision(
        action=Action.ALLOW, stage="output",
        prompt="Who is this?", original="A person.", output="A person.",
        verdicts=(Verdict("phi-disclosure", False, 0.9, QUOTED, "judge:fake"),),
        provenance=Provenance("healthcare", "2.1.0", "0" * 64),
        context=(("app_id", "clinic-bot"), ("patient", SSN), ("route", "openai"),
                 ("user_ref", EMAIL), (EMAIL, "seen")))


@pytest.mark.slow
def test_redacted_metadata_and_rationales_keep_no_identifier() -> None:
    """Under redacted, context entries (names and values) and rationales are redacted
    like texts; the labels records are filtered by (app_id, route) stay as they were."""
    body = decision_body(decision_with_metadata(), store_text="redacted")
    assert body["context"] == {"app_id": "clinic-bot", "patient": "<US_SSN>",
                               "route": "openai", "user_ref": "<EMAIL_ADDRESS>",
                               "<EMAIL_ADDRESS>": "seen"}
    assert body["verdicts"][0]["rationale"] == ("The answer names <US_SSN> and "
                                                "<EMAIL_ADDRESS>.")
    stored = json.dumps(body)
    assert SSN not in stored and EMAIL not in stored


def test_none_stores_no_metadata_value_nor_rationale_nor_their_hash() -> None:
    """Under none, context entries (labels aside) and rationales are not stored, not even
    as a hash a dictionary could reverse."""
    body = decision_body(decision_with_metadata(), store_text="none")
    assert body["context"] == {"app_id": "clinic-bot", "route": "openai"}
    assert body["verdicts"][0]["rationale"] is None
    stored = json.dumps(body)
    for raw in (SSN, EMAIL, QUOTED):
        assert raw not in stored and text_hash(raw) not in stored


def test_full_stores_metadata_and_rationales_as_they_were() -> None:
    """Under full, context and rationale are kept as given."""
    body = decision_body(decision_with_metadata(), store_text="full")
    assert body["context"]["patient"] == SSN and body["context"]["user_ref"] == EMAIL
    assert body["verdicts"][0]["rationale"] == QUOTED


@pytest.mark.slow
async def test_the_ledger_keeps_no_raw_context_under_redacted(ledger: Ledger) -> None:
    """A decision recorded through the ledger with an SSN and an e-mail in its context
    and rationale leaves neither in the stored lines."""
    await ledger.record(decision_with_metadata(), store_text="redacted")
    stored = b"\n".join(ledger.store.lines()).decode()
    assert SSN not in stored and EMAIL not in stored
