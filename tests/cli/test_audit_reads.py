"""`supervisor audit show`, `tail` and `export` read through the ledger's index."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from supervisor.ledger import open_ledger
from supervisor.ledger.index import SIDECAR
from supervisor.settings import Settings
from tests.cli.conftest import Run


def _fill(path: Path) -> list[str]:
    """Twelve decisions (every third a block, from app `bank`); their ids."""
    async def build() -> list[str]:
        ledger = await open_ledger(str(path), settings=Settings(
            ledger=str(path), checkpoint_every=10**6, checkpoint_seconds=3600))
        ids = [(await ledger.append("decision", {
            "action": "block" if i % 3 == 0 else "allow", "stage": "output",
            "context": {"app_id": "bank" if i % 2 else "clinic", "user_ref": f"u{i}"}})).id
            for i in range(12)]
        ledger.store.close()
        return ids

    return asyncio.run(build())


def test_show_finds_a_record_by_id_and_names_a_missing_one(run: Run, ledger_dir: Path
                                                           ) -> None:
    """show prints the record as stored, read through the sidecar index it keeps up."""
    ids = _fill(ledger_dir)
    shown = run("audit", "show", ids[7])
    assert shown.code == 0 and json.loads(shown.out)["seq"] == 7
    assert (ledger_dir / SIDECAR).is_file()
    missing = run("audit", "show", "rec_nope")
    assert missing.code != 0 and "no record 'rec_nope'" in missing.err


def test_tail_prints_the_last_records_oldest_first(run: Run, ledger_dir: Path) -> None:
    """tail -n 3 shows seqs 9, 10 and 11, in that order."""
    _fill(ledger_dir)
    lines = run("audit", "tail", "-n", "3").out.splitlines()
    assert [int(line.split()[0]) for line in lines] == [9, 10, 11]


def test_export_filters_by_action_app_and_user(run: Run, ledger_dir: Path) -> None:
    """export keeps what the filter keeps (the same answers as the API and the console)."""
    _fill(ledger_dir)
    blocked = run("audit", "export", "--action", "block", "--app", "bank").out.splitlines()
    assert [json.loads(line)["seq"] for line in blocked] == [3, 9]
    one = run("audit", "export", "--user-ref", "u4").out.splitlines()
    assert [json.loads(line)["seq"] for line in one] == [4]
