"""The evidence zip verifies offline with the CLI, records who exported it, and its
summary (HTML and PDF) names the rules each decision served."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
import zipfile
from collections import Counter
from pathlib import Path
from typing import Any

import httpx2

from supervisor.constitution import load_constitution
from tests.console.conftest import APP_KEY, SSN, Console, token
from tests.console.test_report import citation_rows, html_text, pdf_text

CLI = [sys.executable, "-m", "supervisor"]


def _exports(console: Console) -> list[dict[str, Any]]:
    return [r for r in console.service.ledger.records_in_order()
            if r["kind"] == "access" and r["body"].get("what") == "export"]


def _export(console: Console, folder: Path, **form: str) -> Path:
    with console.login() as client:
        page = client.get("/console/export")
        answer = client.post("/console/export", data={"csrf": token(page.text), **form})
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"] == "application/zip"
    archive = folder / "evidence.zip"
    archive.write_bytes(answer.content)
    with zipfile.ZipFile(archive) as opened:
        opened.extractall(folder / "evidence")
    return folder / "evidence"


def verify(folder: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    """`supervisor audit verify` as the README tells an examiner to run it."""
    env = {**os.environ, "SUPERVISOR_LEDGER": str(folder / "ledger")}
    env.pop("SUPERVISOR_KEY_DIR", None)
    return subprocess.run([*CLI, "audit", "verify", "--full", "--public-key",
                           str(folder / "public-key.pem"), *extra],
                          env=env, capture_output=True, text=True, timeout=300, check=False)


def test_the_zip_verifies_offline_and_a_changed_byte_fails(console: Console,
                                                            tmp_path: Path) -> None:
    folder = _export(console, tmp_path)
    assert {p.name for p in folder.iterdir()} >= {
        "records.jsonl", "records.csv", "checkpoints.jsonl", "public-key.pem",
        "summary.html", "summary.pdf", "README.txt", "ledger"}
    assert "supervisor audit verify --full --public-key public-key.pem" in (
        folder / "README.txt").read_text()
    passed = verify(folder)
    assert passed.returncode == 0, passed.stdout + passed.stderr
    segment = next((folder / "ledger").glob("ledger-*.jsonl"))
    data = segment.read_bytes()
    segment.write_bytes(data.replace(b"Drink water", b"Drink wAter", 1))
    failed = verify(folder)
    assert failed.returncode == 5, failed.stdout + failed.stderr


def test_the_period_records_are_lines_of_the_verified_chain(console: Console,
                                                             tmp_path: Path) -> None:
    folder = _export(console, tmp_path, since="2000-01-01", action="escalate")
    records = (folder / "records.jsonl").read_bytes().splitlines()
    chain = set(b"".join(p.read_bytes() for p in sorted(
        (folder / "ledger").glob("ledger-*.jsonl"))).splitlines())
    assert records and all(line in chain for line in records)
    assert all(b'"action":"escalate"' in line for line in records)
    assert console.escalated in (folder / "records.csv").read_text()
    assert console.escalated in (folder / "summary.html").read_text()


def test_the_export_is_recorded_and_in_its_own_chain(console: Console, tmp_path: Path) -> None:
    exports = _exports(console)
    folder = _export(console, tmp_path, since="2000-01-01")
    chain = b"".join(p.read_bytes() for p in sorted((folder / "ledger").glob("ledger-*.jsonl")))
    assert len(_exports(console)) == len(exports) + 1  # this export, recorded before the zip
    assert _exports(console)[-1]["body"]["actor"] == "reviewer-1"
    assert _exports(console)[-1]["id"].encode() in chain
    assert chain.rstrip().splitlines()[-1].find(b'"kind":"checkpoint"') > 0
    assert SSN.encode() not in (folder / "records.jsonl").read_bytes() + chain


def _fired(body: dict[str, Any]) -> list[str]:
    """Principles violated at the end or revised away (what the summary counts)."""
    revised = [p for r in body.get("revisions") or [] for p in r["principles"]]
    return list(dict.fromkeys([*body.get("violated", []), *revised]))


def test_a_fresh_summary_names_each_citation_with_its_count(console: Console,
                                                            tmp_path: Path) -> None:
    """summary.html and summary.pdf name every rule the period's decisions served with the
    number of decisions, and records.csv gives each decision's rules in a citations column."""
    folder = _export(console, tmp_path, since="2000-01-01")
    records = [json.loads(line) for line in (folder / "records.jsonl").read_text().splitlines()]
    decisions = [r for r in records if r["kind"] == "decision"]
    served = {r["id"]: list(dict.fromkeys(
        c for v in r["body"]["verdicts"] if v["principle"] in _fired(r["body"])
        for c in v.get("citations", []))) for r in decisions}
    counts = Counter(c for rules in served.values() for c in rules)
    advice = load_constitution("finance").principle("personalised-recommendation")
    assert set(advice.citations) <= set(served[console.escalated])
    assert served[console.phi]  # its principle was revised away: it still served its rules
    with zipfile.ZipFile(tmp_path / "evidence.zip") as archive:
        for text in (html_text(archive), pdf_text(archive)):
            citation_rows(text, dict(counts))
            assert "Verified: ok" in text
    with (folder / "records.csv").open() as table:
        rows = {row["id"]: row for row in csv.DictReader(table)}
    for record_id, rules in served.items():
        assert rows[record_id]["citations"] == "; ".join(rules)


def test_the_supervise_answer_names_each_verdicts_citations(console: Console) -> None:
    """`POST /v1/supervise` returns every verdict with its principle's citations."""
    finance = load_constitution("finance")
    with httpx2.Client(base_url=console.url, timeout=60,
                       headers={"authorization": f"Bearer {APP_KEY}"}) as app:
        answer = app.post("/v1/supervise", json={"output": "Bonds can lose value.",
                                                  "constitution": "finance"})
    assert answer.status_code == 200, answer.text
    verdicts = answer.json()["verdicts"]
    assert verdicts
    for verdict in verdicts:
        assert verdict["citations"] == list(finance.principle(verdict["principle"]).citations)
