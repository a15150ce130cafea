"""`supervisor audit verify` as an examiner uses it: forgeries fail, nothing is written."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from supervisor.ledger import open_ledger
from supervisor.ledger.canonical import GENESIS, canonical, chain_hash
from supervisor.ledger.signing import PUBLIC_NAME, Signer, key_id
from supervisor.settings import Settings
from tests.cli.conftest import Run


def _fill(path: Path, count: int, *, every: int = 5, unsigned: int = 0) -> None:
    """A ledger of `count` access records, checkpointed every `every` and at close, then
    `unsigned` more that no checkpoint covers (a process killed before signing)."""
    async def build() -> None:
        settings = Settings(ledger=str(path), checkpoint_every=every,
                            checkpoint_seconds=3600)
        ledger = await open_ledger(str(path), settings=settings)
        for i in range(count):
            await ledger.append("access", {"who": f"auditor-{i}"})
        await ledger.close()
        ledger = await open_ledger(str(path), settings=settings)
        for i in range(unsigned):
            await ledger.append("access", {"who": f"late-{i}"})
        ledger.store.close()

    asyncio.run(build())


def _segment(path: Path) -> Path:
    return next(path.glob("ledger-*.jsonl"))


def _rewrite(path: Path, keep: int = 0) -> None:
    """Forge as an attacker with write access but not the key would: from seq `keep` on,
    drop checkpoint records, change a record, and recompute every seq and hash."""
    records = [json.loads(line) for line in _segment(path).read_bytes().splitlines()]
    kept, rest = records[:keep], [r for r in records[keep:] if r["kind"] != "checkpoint"]
    rest[0]["body"]["who"] = "someone-else"
    head = kept[-1]["hash"] if kept else GENESIS
    for seq, record in enumerate(rest, len(kept)):
        record.update(seq=seq, prev_hash=head)
        record.pop("hash")
        record["hash"] = head = chain_hash(head, record)
    _segment(path).write_bytes(b"".join(canonical(r) + b"\n" for r in kept + rest))


def test_a_rewritten_ledger_without_checkpoints_fails(run: Run, ledger_dir: Path) -> None:
    """Records rewritten with recomputed hashes, checkpoints and the checkpoint file
    deleted: verify fails, saying how many records no signature covers."""
    _fill(ledger_dir, 12)
    assert run("audit", "verify").code == 0
    _rewrite(ledger_dir)
    (ledger_dir / "checkpoints.jsonl").unlink()
    result = run("audit", "verify")
    assert result.code == 5
    assert "12 records from seq 0 on are covered by no signed checkpoint" in result.err
    allowed = run("audit", "verify", "--allow-unsigned-tail", "12")
    assert allowed.code == 0 and "unsigned tail 12" in allowed.out


def test_a_rewritten_tail_after_the_last_checkpoint_fails(run: Run, ledger_dir: Path) -> None:
    """Records after the last signed checkpoint fail by default, rewritten or not: a
    hash chain alone cannot tell them from a forgery."""
    _fill(ledger_dir, 12, unsigned=3)
    lines = _segment(ledger_dir).read_bytes().splitlines()
    _rewrite(ledger_dir, keep=len(lines) - 3)
    result = run("audit", "verify")
    assert result.code == 5
    assert f"3 records from seq {len(lines) - 3} on are covered by no" in result.err


def test_verify_names_the_key_it_trusted_and_takes_one(run: Run, ledger_dir: Path,
                                                       tmp_path: Path) -> None:
    """The output names the trusted key's fingerprint; another key given fails."""
    _fill(ledger_dir, 6)
    own = key_id((ledger_dir / "keys" / PUBLIC_NAME).read_bytes())
    result = run("audit", "verify", "--json")
    assert result.code == 0 and json.loads(result.out)["key_id"] == own
    other = Signer(tmp_path / "other")
    (tmp_path / "other.pem").write_bytes(other.public_pem())
    result = run("audit", "verify", "--public-key", str(tmp_path / "other.pem"))
    assert result.code == 5 and other.key_id in result.err and "signature" in result.err


def test_a_shipped_checkpoint_copy_catches_truncation(run: Run, ledger_dir: Path,
                                                      tmp_path: Path) -> None:
    """With --checkpoints naming the copy kept off the machine, cutting the ledger back
    and deleting its own checkpoint file is found."""
    _fill(ledger_dir, 12)
    shipped = tmp_path / "offsite.jsonl"
    shipped.write_bytes((ledger_dir / "checkpoints.jsonl").read_bytes())
    lines = _segment(ledger_dir).read_bytes().splitlines(keepends=True)
    _segment(ledger_dir).write_bytes(b"".join(lines[:6]))
    (ledger_dir / "checkpoints.jsonl").unlink()
    assert run("audit", "verify", "--allow-unsigned-tail", "99").code == 0  # no copy: blind
    result = run("audit", "verify", "--checkpoints", str(shipped))
    assert result.code == 5 and "truncated" in result.err


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*"))
            if p.is_file()}


def test_verify_writes_nothing(run: Run, ledger_dir: Path, tmp_path: Path) -> None:
    """A torn last line and no keys folder: verify reports the torn line and leaves every
    file as it was (no repair, no recovery record, no new key)."""
    _fill(ledger_dir, 6)
    public = tmp_path / "given.pem"
    public.write_bytes((ledger_dir / "keys" / PUBLIC_NAME).read_bytes())
    for key in (ledger_dir / "keys").iterdir():
        key.unlink()
    (ledger_dir / "keys").rmdir()
    with _segment(ledger_dir).open("ab") as handle:
        handle.write(b'{"body":{"who":"half')
    before = _snapshot(ledger_dir)
    result = run("audit", "verify", "--public-key", str(public))
    assert result.code == 5 and "not valid JSON" in result.err
    assert _snapshot(ledger_dir) == before
    assert not (ledger_dir / "keys").exists()
    missing = run("audit", "verify")
    assert missing.code != 0 and "--public-key" in missing.err
    assert "Traceback" not in missing.err


@pytest.fixture(autouse=True)
def verifier_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The verifier's own home, so its verify state stays inside the test."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.delenv("SUPERVISOR_VERIFY_STATE_DIR")  # the default place, in this home
    return home


def test_a_second_verify_continues_from_the_last_verified_checkpoint(
        run: Run, ledger_dir: Path, verifier_home: Path, tmp_path: Path) -> None:
    """The second run reads only from the saved checkpoint on; --full reads from genesis;
    the state lives in the verifier's cache (or --state), and the ledger is untouched."""
    _fill(ledger_dir, 12)
    before = _snapshot(ledger_dir)
    first = json.loads(run("audit", "verify", "--json").out)
    assert first["ok"] and first["from_seq"] == 0
    saved = list((verifier_home / ".cache" / "constitutional-supervisor" / "verify").iterdir())
    assert len(saved) == 1 and json.loads(saved[0].read_text())["key_id"] == first["key_id"]
    again = json.loads(run("audit", "verify", "--json").out)
    assert again["ok"] and again["from_seq"] > 0 and again["records"] == first["records"]
    assert json.loads(run("audit", "verify", "--json", "--full").out)["from_seq"] == 0
    state = tmp_path / "mine.json"
    assert json.loads(run("audit", "verify", "--json", "--state", str(state)).out)[
        "from_seq"] == 0
    assert state.is_file()
    assert _snapshot(ledger_dir) == before


def test_verify_with_several_processes_reports_the_same_fault(run: Run,
                                                              ledger_dir: Path) -> None:
    """--jobs 2 and --jobs 1 name the same first bad record of a tampered ledger."""
    _fill(ledger_dir, 12)
    lines = _segment(ledger_dir).read_bytes().splitlines(keepends=True)
    lines[7] = lines[7].replace(b"auditor", b"auditoR")
    _segment(ledger_dir).write_bytes(b"".join(lines))
    one = run("audit", "verify", "--full", "--jobs", "1")
    two = run("audit", "verify", "--full", "--jobs", "2")
    assert one.code == two.code == 5 and one.err == two.err and "record seq 7" in one.err
