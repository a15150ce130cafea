"""Printing for the examples: labelled lines, and what the ledger recorded for a case.

The examples stamp every call with `context={"run": ..., "case": ...}`, so the records of
one case in one run can be found again in the ledger (audit_logs/ by default) and shown
next to the answer, as a compliance officer would later see them.
"""

from __future__ import annotations

import asyncio
import textwrap
import uuid
from typing import Any


def run_id() -> str:
    """A fresh id for one run's records: eight hex characters with letters and digits
    mixed. The ledger redacts context values: eight digits alone can read as a phone
    number, eight letters as a name."""
    while True:
        run = uuid.uuid4().hex[:8]
        if not run.isdigit() and not run.isalpha():
            return run


def show(label: str, text: str) -> None:
    """Print one labelled, wrapped line."""
    print(textwrap.fill(text, 96, initial_indent=f"    {label:<14}",
                        subsequent_indent=" " * 18))


def recorded(run: str, case: str) -> list[dict[str, Any]]:
    """The decision records of one case of one run (input stage, then output stage)."""
    from supervisor.ledger import open_ledger

    ledger = asyncio.run(open_ledger())
    return [r["body"] for r in ledger.records_in_order() if r["kind"] == "decision"
            and r["body"]["context"].get("run") == run
            and r["body"]["context"].get("case") == case]


def report(run: str, case: str) -> None:
    """Print each stage's action and the principles behind it, from the ledger."""
    for body in recorded(run, case):
        revised = {p for r in body["revisions"] for p in r["principles"]}
        why = ", ".join(sorted(revised | set(body["violated"]))) or "no principle violated"
        show(f"ledger/{body['stage']}", f"{body['action']} ({why})")
