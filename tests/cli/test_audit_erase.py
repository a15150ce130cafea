"""`supervisor audit erase` and `audit retain`: keys destroyed, erasures recorded, chain intact."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from supervisor.ledger import open_ledger
from supervisor.ledger.keystore import KeyStore, load_master_key
from supervisor.ledger.records import decision_body
from supervisor.ledger.sealed import TextKeys, keys_for, store_path
from supervisor.settings import Settings
from tests.cli.conftest import Run
from tests.ledger.test_sealed import EMAIL, SSN, decision


def _fill(path: Path, *users: str | None, sealed_at: datetime | None = None) -> list[str]:
    """Encrypted decision records, one per user (None: the record is its own subject),
    their keys made at `sealed_at` (default: now); returns the record ids."""
    settings = Settings(ledger=str(path), checkpoint_seconds=3600)
    keys = keys_for(settings)
    if sealed_at is not None:
        master = load_master_key(settings.master_key_file, configured=False)
        keys = TextKeys(KeyStore(store_path(settings), master, clock=lambda: sealed_at))

    async def build() -> list[str]:
        ledger = await open_ledger(str(path), settings=settings)
        ids = [(await ledger.append("decision", decision_body(
            decision(user), store_text="encrypted", keys=keys))).id for user in users]
        await ledger.close()
        return ids

    return asyncio.run(build())


def _records(path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for p in sorted(path.glob("ledger-*.jsonl"))
            for line in p.read_bytes().splitlines()]


def test_erase_by_user_ref_keeps_verify_passing(run: Run, ledger_dir: Path) -> None:
    """Erasing a user prints the erasure, appends a signed erasure record naming the
    subject id (never the user_ref), and `audit verify` still passes."""
    _fill(ledger_dir, EMAIL, EMAIL, "someone-else")
    result = run("audit", "erase", "--subject", EMAIL, "--reason", "GDPR Art. 17",
                 "--by", "dpo")
    assert result.code == 0, result.err
    assert result.out.startswith("erased on ") and "1 data key(s) of subject subj_" in result.out
    erasure = [r for r in _records(ledger_dir) if r["kind"] == "erasure"]
    assert len(erasure) == 1
    # records are read as untyped JSON
    assert erasure[0]["body"]["by"] == "dpo"  # type: ignore[index]
    raw = b"".join(p.read_bytes() for p in ledger_dir.glob("*.jsonl"))
    assert EMAIL.encode() not in raw and SSN.encode() not in raw
    assert run("audit", "verify").code == 0


def test_erasing_an_unknown_subject_is_a_clear_error(run: Run, ledger_dir: Path) -> None:
    """An unknown subject exits 2 saying what to give, and appends nothing."""
    _fill(ledger_dir, EMAIL)
    before = len(_records(ledger_dir))
    result = run("audit", "erase", "--subject", "nobody", "--reason", "request")
    assert result.code == 2
    assert "no live data key for subject 'nobody'" in result.err
    assert "Traceback" not in result.err
    assert len(_records(ledger_dir)) == before


def test_a_missing_master_key_names_the_setting(run: Run, ledger_dir: Path,
                                               tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """A configured SUPERVISOR_MASTER_KEY that is not there stops erase with exit 2."""
    monkeypatch.setenv("SUPERVISOR_MASTER_KEY", str(tmp_path / "nowhere.key"))
    result = run("audit", "erase", "--subject", EMAIL, "--reason", "request")
    assert result.code == 2
    assert "(SUPERVISOR_MASTER_KEY) does not exist" in result.err


def test_erase_never_creates_a_master_key(run: Run, ledger_dir: Path) -> None:
    """With no master key anywhere, erase says which setting to fix and creates none."""
    result = run("audit", "erase", "--subject", EMAIL, "--reason", "request")
    assert result.code == 2 and "(SUPERVISOR_MASTER_KEY) does not exist" in result.err
    assert not (ledger_dir / "keys" / "master.key").exists()


def test_retain_erases_only_texts_older_than_the_period(run: Run, ledger_dir: Path) -> None:
    """Texts sealed eight years ago are erased with reason "retention"; today's are not,
    and a second run finds nothing to do."""
    old = _fill(ledger_dir, "old-patient", None, sealed_at=datetime(2018, 1, 2, tzinfo=UTC))
    new = _fill(ledger_dir, EMAIL, None)
    result = run("audit", "retain", "--days", "2555", "--by", "scheduler")
    assert result.code == 0, result.err
    assert "data key(s) of texts older than 2555 days" in result.out
    erasure = next(r for r in _records(ledger_dir) if r["kind"] == "erasure")
    body = erasure["body"]
    # records are read as untyped JSON
    assert body["reason"] == "retention"  # type: ignore[index]
    keys = keys_for(Settings(ledger=str(ledger_dir)))
    records = {r["id"]: r for r in _records(ledger_dir)}
    # records are read as untyped JSON
    assert all(keys.open(records[i]["body"]).erased_on for i in old)  # type: ignore[arg-type]
    # records are read as untyped JSON
    assert all(keys.open(records[i]["body"]).opened for i in new)  # type: ignore[arg-type]
    assert "nothing to erase" in run("audit", "retain", "--days", "2555").out
    assert run("audit", "verify").code == 0
