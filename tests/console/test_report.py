"""The evidence summary (HTML and PDF) counts actions, principles and citations, and
reports the verify result of the chain it ships.

Built with `evidence_zip` over a real ledger whose decisions come from a pattern-only
Supervisor, so no model is loaded; the console's end-to-end export is in test_evidence.
"""

from __future__ import annotations

import io
import re
import zipfile
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from pypdf import PdfReader

from api.console.evidence import evidence_zip
from api.console.report import offline_steps
from supervisor.constitution import Constitution, load_constitution
from supervisor.detectors.pattern import PatternDetector
from supervisor.ledger import Ledger, open_ledger
from supervisor.ledger.canonical import canonical
from supervisor.pipeline import Supervisor
from supervisor.settings import Settings

# texts kept as hashes only: redaction would load Presidio, and the summary needs no text
FINANCE = replace(load_constitution("finance"), defaults=load_constitution(
    "finance").defaults.model_copy(update={"store_text": "none"}))
GUARANTEE = "This fund has guaranteed returns of 20% a year."
ADVICE = "You should put all your savings into Tesla stock."
QUIET = "Diversification spreads risk across many holdings."


@pytest.fixture
async def ledger(tmp_path: Path) -> AsyncIterator[Ledger]:
    folder = str(tmp_path / "ledger")
    opened = await open_ledger(folder, settings=Settings(ledger=folder,
                                                         checkpoint_seconds=3600))
    yield opened
    await opened.close()


async def recorded(ledger: Ledger, constitution: Constitution, *texts: str) -> None:
    supervisor = Supervisor(constitution, detectors={"pattern": PatternDetector()},
                            ledger=ledger)
    for text in texts:
        await supervisor.check_output(text)


async def exported(ledger: Ledger, **filters: str) -> zipfile.ZipFile:
    sealed = await ledger.checkpoint()
    chosen = [r for r in ledger.records_in_order()
              if r["kind"] == "decision" and (not filters.get("action")
                                              or r["body"]["action"] == filters["action"])]
    data = evidence_zip(ledger, chosen, through=sealed.seq, actor="auditor-7",
                        period=("2000-01-01", ""), filters=filters)
    return zipfile.ZipFile(io.BytesIO(data))


def pdf_text(archive: zipfile.ZipFile) -> str:
    """The PDF's text, whitespace folded (a table cell may wrap a long citation)."""
    reader = PdfReader(io.BytesIO(archive.read("summary.pdf")))
    return " ".join(" ".join(page.extract_text() or "" for page in reader.pages).split())


def html_text(archive: zipfile.ZipFile) -> str:
    import html

    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ",
                                         archive.read("summary.html").decode())).split())


def citation_rows(text: str, citations: dict[str, int]) -> None:
    for citation, count in citations.items():
        assert re.search(re.escape(" ".join(citation.split())) + rf"\s+{count}\b", text), (
            citation, count)


def expected_citations(records: list[dict[str, Any]]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for r in records:
        for c in dict.fromkeys(c for v in r["body"]["verdicts"] if v["violated"]
                               for c in v["citations"]):
            counts[c] = counts.get(c, 0) + 1
    return counts


async def test_the_summary_names_each_citation_with_its_count(ledger: Ledger) -> None:
    """Two guarantees and one recommendation: each rule they served is named with the
    number of decisions that served it, in the HTML and in the PDF alike."""
    await recorded(ledger, FINANCE, GUARANTEE, GUARANTEE, ADVICE, QUIET)
    decisions = [r for r in ledger.records_in_order() if r["kind"] == "decision"]
    citations = expected_citations(decisions)
    guarantee = FINANCE.principle("no-guaranteed-returns").citations
    assert {citations[c] for c in guarantee} == {2} and len(citations) > len(guarantee)
    archive = await exported(ledger)
    for text in (html_text(archive), pdf_text(archive)):
        assert "Rules served (citations)" in text
        citation_rows(text, citations)
        citation_rows(text, {"no-guaranteed-returns": 2, "personalised-recommendation": 1})
        assert re.search(r"block\s+2\b", text) and re.search(r"escalate\s+1\b", text)


async def test_the_summary_reports_the_verify_result_of_the_shipped_chain(
        ledger: Ledger) -> None:
    """ok, the records and checkpoints checked, no unsigned tail, and the fingerprint of
    the key shipped; with the offline steps in the README's own words."""
    await recorded(ledger, FINANCE, GUARANTEE)
    archive = await exported(ledger, action="block", app="wealth-bot")
    size = len(archive.read("ledger/" + next(
        n.split("/")[1] for n in archive.namelist() if n.startswith("ledger/ledger-")))
               .splitlines())
    readme = archive.read("README.txt").decode()
    for text in (html_text(archive), pdf_text(archive)):
        assert "Verified: ok" in text
        assert re.search(rf"Records checked\s+{size}\b", text)
        assert re.search(r"Signed checkpoints\s+1 verified", text)
        assert re.search(r"Unsigned tail\s+0\b", text)
        assert ledger.signer.key_id in text
        assert "Action = block; App = wealth-bot" in text
        assert "supervisor audit verify --full --public-key public-key.pem" in text
    steps = offline_steps(readme)
    assert steps.startswith("1. Check the public key") and "audit prove" in steps
    assert " ".join(steps.split()) in html_text(archive)


async def test_an_old_record_without_citations_is_counted_apart(ledger: Ledger) -> None:
    """A decision recorded before verdicts carried citations still exports: its principle
    is counted, its rules are not guessed, and the summary says how many such there are."""
    await recorded(ledger, FINANCE, GUARANTEE)
    old = next(r for r in ledger.records_in_order() if r["kind"] == "decision")
    body = {**old["body"], "verdicts": [{k: v for k, v in verdict.items() if k != "citations"}
                                        for verdict in old["body"]["verdicts"]]}
    await ledger.append("decision", body)
    sealed = await ledger.checkpoint()
    chosen = [r for r in ledger.records_in_order() if r["kind"] == "decision"]
    archive = zipfile.ZipFile(io.BytesIO(evidence_zip(
        ledger, chosen, through=sealed.seq, actor="a", period=("", ""))))
    assert archive.read("records.jsonl") == b"".join(canonical(r) + b"\n" for r in chosen)
    csv = archive.read("records.csv").decode().splitlines()
    assert csv[0].split(",")[8] == "citations" and csv[-1].count("FINRA") == 0
    for text in (html_text(archive), pdf_text(archive)):
        citation_rows(text, {"no-guaranteed-returns": 2})
        citation_rows(text, dict.fromkeys(FINANCE.principle(
            "no-guaranteed-returns").citations, 1))
        assert "1 decision" in text and "before verdicts carried citations" in text


async def test_a_tampered_chain_is_reported_not_verified(ledger: Ledger, tmp_path: Path
                                                         ) -> None:
    """A byte changed in the stored chain before the export: the summary says NOT verified
    and names the first bad record, rather than vouching for what it ships."""
    await recorded(ledger, FINANCE, GUARANTEE, QUIET)
    segment = next((tmp_path / "ledger").glob("ledger-*.jsonl"))
    segment.write_bytes(segment.read_bytes().replace(b'"action":"allow"',
                                                     b'"action":"block"', 1))
    archive = await exported(ledger)
    for text in (html_text(archive), pdf_text(archive)):
        assert "NOT verified" in text and "Verified: ok" not in text
        assert "first bad record: seq 1" in text
