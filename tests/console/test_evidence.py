"""The evidence zip verifies offline with the CLI, and records who exported it."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

from tests.console.conftest import SSN, Console, token

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
    return subprocess.run([*CLI, "audit", "verify", "--public-key",
                           str(folder / "public-key.pem"), *extra],
                          env=env, capture_output=True, text=True, timeout=300, check=False)


def test_the_zip_verifies_offline_and_a_changed_byte_fails(console: Console,
                                                            tmp_path: Path) -> None:
    folder = _export(console, tmp_path)
    assert {p.name for p in folder.iterdir()} >= {
        "records.jsonl", "records.csv", "checkpoints.jsonl", "public-key.pem",
        "summary.html", "README.txt", "ledger"}
    assert "supervisor audit verify --public-key public-key.pem" in (
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
