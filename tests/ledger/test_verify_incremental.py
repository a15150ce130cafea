"""Incremental verify: continues from the last verified signed checkpoint, finds the same
faults after it as a full verify, and falls back to genesis when the past changed."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from supervisor.ledger import open_ledger, verify_ledger
from supervisor.ledger.canonical import canonical, chain_hash
from supervisor.ledger.signing import Signer
from supervisor.ledger.verify import FullVerifyNeeded, verify_lines, verify_since
from supervisor.ledger.verify_state import VerifiedPoint, load_point, save_point
from tests.ledger.conftest import settings_for


def _build(path: Path, batches: tuple[int, ...], every: int = 5) -> list[bytes]:
    """A ledger filled in `batches` of access records, closed (signed) after each."""
    async def build() -> list[bytes]:
        for n, count in enumerate(batches):
            ledger = await open_ledger(str(path), settings=settings_for(path, every=every))
            for i in range(count):
                await ledger.append("access", {"who": f"auditor-{n}-{i}"})
            await ledger.close()
        return list(ledger.store.lines())

    return asyncio.run(build())


def _pem(path: Path) -> bytes:
    return (path / "keys" / "ledger_ed25519.pub.pem").read_bytes()


def _prefix_point(lines: list[bytes], pem: bytes, upto: int) -> VerifiedPoint:
    """The point a full verify of the first records (ending at a checkpoint) saves."""
    point = verify_lines(lines[:upto], pem).point
    assert point is not None
    return point


def _fixed() -> tuple[list[bytes], bytes, int]:
    import tempfile

    path = Path(tempfile.mkdtemp()) / "l"
    lines = _build(path, (12, 14))
    checkpoints = [i for i, line in enumerate(lines) if json.loads(line)["kind"] == "checkpoint"]
    return lines, _pem(path), checkpoints[1] + 1


FIXED = _fixed()


def test_a_run_continues_after_the_saved_checkpoint(tmp_path: Path) -> None:
    """After new records, the run reads from the saved checkpoint on and reports what a
    full verify reports; the saved point moves to the newest checkpoint."""
    lines, pem, upto = FIXED
    point = _prefix_point(lines, pem, upto)
    report = verify_since(point, lines[point.seq:], pem)
    full = verify_lines(lines, pem)
    assert report.ok and report.start == point.seq + 1
    assert (report.records, report.head, report.unsigned_tail) == \
        (full.records, full.head, full.unsigned_tail)
    assert report.point == full.point and report.point is not None
    assert report.point.seq > point.seq


@settings(max_examples=80, deadline=None)
@given(data=st.data())
def test_a_changed_byte_after_the_saved_point_is_found_as_a_full_verify_finds_it(
        data: st.DataObject) -> None:
    """Any byte changed after the saved checkpoint: same first bad seq and problem."""
    lines, pem, upto = FIXED
    point = _prefix_point(lines, pem, upto)
    index = data.draw(st.integers(point.seq + 1, len(lines) - 1))
    line = bytearray(lines[index])
    position = data.draw(st.integers(0, len(line) - 1))
    line[position] = data.draw(st.integers(0, 255).filter(lambda b: b != line[position]))
    tampered = [*lines[:index], bytes(line), *lines[index + 1:]]
    found, full = verify_since(point, tampered[point.seq:], pem), verify_lines(tampered, pem)
    assert not found.ok and (found.bad_seq, found.problem) == (full.bad_seq, full.problem)


def test_a_rewritten_past_falls_back_to_a_full_verify(tmp_path: Path) -> None:
    """The ledger rewritten up to the saved point (hashes recomputed): the incremental run
    refuses, and verify_ledger says so and verifies from genesis, naming the first bad
    record."""
    path = tmp_path / "l"
    _build(path, (12,))
    state = tmp_path / "state.json"
    first, _ = verify_ledger(str(path), settings=settings_for(path), state=state)
    assert first.ok and state.is_file()
    point, _ = load_point(state, first.key_id)
    assert point is not None
    segment = next(path.glob("ledger-*.jsonl"))
    lines = segment.read_bytes().splitlines()
    with pytest.raises(FullVerifyNeeded, match="no longer has the hash"):
        verify_since(point, [lines[point.seq].replace(b"checkpoint", b"Checkpoint"),
                             *lines[point.seq + 1:]], _pem(path))
    records = [json.loads(line) for line in lines]  # rewrite record 3 and rechain
    records[3]["body"]["who"] = "someone-else"
    for seq in range(3, len(records)):
        records[seq]["prev_hash"] = records[seq - 1]["hash"]
        records[seq]["hash"] = chain_hash(records[seq]["prev_hash"], records[seq])
    segment.write_bytes(b"".join(canonical(r) + b"\n" for r in records))
    report, _ = verify_ledger(str(path), settings=settings_for(path), state=state)
    assert any("changed before the saved point; verified from genesis" in w
               for w in report.warnings)
    assert not report.ok and report.start == 0 and report.bad_seq == 5
    assert "Merkle root" in report.problem


def test_a_ledger_cut_below_the_saved_point_is_verified_from_genesis(tmp_path: Path) -> None:
    """Fewer records than verified before: a warning, then a full verify, which a
    shipped checkpoint copy turns into a truncation failure."""
    path = tmp_path / "l"
    _build(path, (12,))
    state = tmp_path / "state.json"
    assert verify_ledger(str(path), settings=settings_for(path), state=state)[0].ok
    segment = next(path.glob("ledger-*.jsonl"))
    segment.write_bytes(b"".join(segment.read_bytes().splitlines(keepends=True)[:6]))
    report, _ = verify_ledger(str(path), settings=settings_for(path), state=state)
    assert any("verified from genesis" in w for w in report.warnings)
    assert not report.ok and "truncated" in report.problem


def test_the_unsigned_tail_rule_holds_after_the_saved_point(tmp_path: Path) -> None:
    """Records appended after the saved checkpoint and never signed fail, as in full."""
    path = tmp_path / "l"
    _build(path, (12,))
    state = tmp_path / "state.json"
    assert verify_ledger(str(path), settings=settings_for(path), state=state)[0].ok

    async def unsigned() -> None:
        ledger = await open_ledger(str(path), settings=settings_for(path, every=1000))
        for i in range(3):
            await ledger.append("access", {"who": f"late-{i}"})
        ledger.store.close()

    asyncio.run(unsigned())
    report, _ = verify_ledger(str(path), settings=settings_for(path), state=state)
    assert not report.ok and report.start > 0 and report.unsigned_tail == 3
    assert "3 records from seq" in report.problem


def test_shipped_checkpoints_after_the_saved_point_are_checked(tmp_path: Path) -> None:
    """A forged shipped checkpoint newer than the saved point fails the incremental run."""
    lines, pem, upto = FIXED
    point = _prefix_point(lines, pem, upto)
    last = json.loads(lines[-1])["body"]
    forged = {**last, "root": "00" * 32}
    report = verify_since(point, lines[point.seq:], pem, [forged])
    full = verify_lines(lines, pem, [forged])
    assert not report.ok and (report.bad_seq, report.problem) == (full.bad_seq, full.problem)
    assert verify_since(point, lines[point.seq:], pem, [last]).ok


def test_a_state_made_with_another_key_is_not_used(tmp_path: Path) -> None:
    """The state is trusted only with the key it was made with; otherwise it says why."""
    lines, pem, upto = FIXED
    point = _prefix_point(lines, pem, upto)
    state = tmp_path / "state.json"
    save_point(state, point)
    assert load_point(state, point.key_id)[0] == point
    other = Signer(tmp_path / "other").key_id
    missing, why = load_point(state, other)
    assert missing is None and "made with key" in why
    state.write_text("{not json")
    assert "unreadable" in load_point(state, point.key_id)[1]


def test_a_byte_changed_before_the_saved_point_is_found_by_default(tmp_path: Path) -> None:
    """One byte of an old record changed in place, nothing rechained: the files no longer
    match what the last run saw, so the default run goes back to genesis and finds it;
    appends after the saved point do not trip it."""
    path = tmp_path / "l"
    _build(path, (12,))
    state = tmp_path / "state.json"
    assert verify_ledger(str(path), settings=settings_for(path), state=state)[0].ok
    _build(path, (3,))  # new records after the saved point
    again, _ = verify_ledger(str(path), settings=settings_for(path), state=state)
    assert again.ok and again.start > 0 and not again.warnings
    segment = next(path.glob("ledger-*.jsonl"))
    data = segment.read_bytes()
    segment.write_bytes(data.replace(b"auditor-0-1\"", b"auditor-0-X\"", 1))
    report, _ = verify_ledger(str(path), settings=settings_for(path), state=state)
    assert not report.ok and report.start == 0 and report.bad_seq is not None
