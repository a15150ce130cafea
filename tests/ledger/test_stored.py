"""`Record`: a stored ledger entry read back as a frozen value, in the stored format."""

from __future__ import annotations

import dataclasses
import json

import pytest

from supervisor.decision import Action, Decision, Provenance, Verdict
from supervisor.errors import LedgerError
from supervisor.ledger import Ledger
from supervisor.ledger.canonical import canonical
from supervisor.ledger.records import decision_body
from supervisor.ledger.stored import Record


def failed_decision() -> Decision:
    """An error decision whose primary model failed, with a verdict to store."""
    return Decision(
        action=Action.ERROR, stage="output", prompt="Hi", original="", output="refused",
        verdicts=(Verdict("p", False, 0.5, "no local check found a violation", "local",
                          citations=("rule 1",)),),
        provenance=Provenance("c", "1.0.0", "0" * 64), reason="primary model failed: down",
        released=False, failure="primary")


async def test_every_record_reads_back_to_its_exact_stored_bytes(ledger: Ledger) -> None:
    """Record.of(stored).to_dict() serialises to the very line the store holds, so a
    record read through the type still hashes to its `hash` (old records included)."""
    await ledger.record(failed_decision(), store_text="full")
    await ledger.append("access", {"actor": "alice", "filter": {"action": ["block"]}})
    await ledger.checkpoint()
    lines = list(ledger.store.lines())
    assert len(lines) == 3
    for line in lines:
        stored = json.loads(line)
        record = Record.of(stored)
        assert record.to_dict() == stored
        assert canonical(record.to_dict()) == line.rstrip(b"\n")
    kinds = [Record.of(json.loads(line)).kind for line in lines]
    assert kinds == ["decision", "access", "checkpoint"]
    assert Record.of(json.loads(lines[0])).action == "error"
    assert Record.of(json.loads(lines[1])).action is None


async def test_a_record_cannot_be_changed_by_its_reader(ledger: Ledger) -> None:
    """Fields, the body and the lists in it are read-only."""
    record_id = await ledger.record(failed_decision(), store_text="full")
    found = ledger.get(record_id)
    assert found is not None
    record = Record.of(found)
    with pytest.raises(dataclasses.FrozenInstanceError):
        record.kind = "review"  # type: ignore[misc]  # frozen: the assignment must fail
    with pytest.raises(TypeError):
        record.body["action"] = "allow"  # type: ignore[index]  # a read-only mapping
    assert isinstance(record.body["verdicts"], tuple)
    assert record.body["verdicts"][0]["citations"] == ("rule 1",)
    assert found["body"]["action"] == "error"  # the dict it was read from is untouched


def test_a_damaged_record_names_what_it_lacks() -> None:
    """A stored object without its hash is a LedgerError that says so, not a KeyError."""
    stored = {"seq": 3, "id": "rec_x", "ts": "t", "kind": "access", "body": {},
              "prev_hash": "0" * 64}
    with pytest.raises(LedgerError, match=r"rec_x lacks hash; run `supervisor audit verify`"):
        Record.of(stored)
    with pytest.raises(LedgerError, match="an object body"):
        Record.of({**stored, "hash": "1" * 64, "body": ["not", "an", "object"]})


def test_who_failed_stays_out_of_the_record_body() -> None:
    """Decision.failure is for the caller (502 or 503); the ledger body keeps the format
    it had, so records written before and after it read alike."""
    body = decision_body(failed_decision(), store_text="full")
    assert "failure" not in body
    assert body["action"] == "error" and body["reason"] == "primary model failed: down"
