"""The CSV names the rules each decision served; old records without them still export."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

from supervisor.constitution import load_constitution
from supervisor.detectors.pattern import PatternDetector
from supervisor.ledger import Ledger
from supervisor.ledger.canonical import canonical
from supervisor.ledger.export import cited, to_csv, to_jsonl
from supervisor.pipeline import Supervisor


def rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


def decision(verdicts: list[dict[str, Any]], *, violated: list[str],
             revised: tuple[str, ...] = ()) -> dict[str, Any]:
    """A stored decision record as the ledger reads it back (hash and chain aside)."""
    return {"seq": 1, "id": "rec-1", "ts": "2026-11-23T09:30:00.000000Z", "kind": "decision",
            "hash": "0" * 64, "body": {
                "action": "revise" if revised else "block", "violated": violated,
                "revisions": [{"round": 1, "principles": list(revised)}] if revised else [],
                "verdicts": verdicts, "provenance": {}, "context": {}}}


def verdict(principle: str, violated: bool, *citations: str) -> dict[str, Any]:
    return {"principle": principle, "violated": violated, "citations": list(citations)}


def test_the_csv_citations_are_the_distinct_rules_of_the_principles_that_fired() -> None:
    """Violated and revised-away principles give their citations once each, `; `-joined;
    a quiet principle's citations are not claimed."""
    record = decision([verdict("phi", False, "HIPAA 164.502", "PRIV-2"),
                       verdict("pan", True, "PCI DSS 3.4, masked", "PRIV-2"),
                       verdict("tone", False, "SAFE-4")],
                      violated=["pan"], revised=("phi",))
    assert cited(record["body"]) == ["HIPAA 164.502", "PRIV-2", "PCI DSS 3.4, masked"]
    (row,) = rows(to_csv([record]))
    assert row["citations"] == "HIPAA 164.502; PRIV-2; PCI DSS 3.4, masked"
    assert row["violated"] == "pan"


def test_an_old_record_without_citations_still_exports() -> None:
    """A record written before verdicts carried citations gives an empty column and its
    JSONL line is the stored bytes, unchanged."""
    old = decision([{"principle": "pan", "violated": True, "confidence": 1.0}],
                   violated=["pan"])
    old["body"]["verdicts"].append({"principle": "gone"})  # and one with hardly anything
    assert rows(to_csv([old]))[0]["citations"] == ""
    assert to_jsonl([old]).encode() == canonical(old) + b"\n"
    access = {"seq": 2, "id": "rec-2", "ts": "2026-11-23T09:31:00.000000Z", "kind": "access",
              "hash": "1" * 64, "body": {"what": "export"}}
    assert rows(to_csv([access]))[0]["citations"] == ""


async def test_a_recorded_decision_exports_its_citations(ledger: Ledger) -> None:
    """Through the real ledger: the record's verdicts carry the citations, the JSONL line
    holds them as stored and the CSV names those of the blocking principle."""
    constitution = load_constitution("finance")
    principle = constitution.principle("no-guaranteed-returns")
    made = await Supervisor(constitution, detectors={"pattern": PatternDetector()}).check_output(
        "This fund has guaranteed returns of 20% a year.")
    record_id = await ledger.record(made, store_text="none")
    record = ledger.get(record_id)
    assert record is not None
    line = json.loads(to_jsonl([record]))
    by_principle = {v["principle"]: v["citations"] for v in line["body"]["verdicts"]}
    assert by_principle["no-guaranteed-returns"] == list(principle.citations)
    assert made.violated == ("no-guaranteed-returns",)
    assert rows(to_csv([record]))[0]["citations"] == "; ".join(principle.citations)
