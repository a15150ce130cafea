"""The hash chain: any changed byte, deletion, reorder or insertion is found and located."""

from __future__ import annotations

import enum
import json
import uuid
from datetime import datetime
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from supervisor.ledger import Ledger, verify_proof
from supervisor.ledger.canonical import canonical
from supervisor.ledger.verify import verify_lines


class Colour(enum.Enum):
    RED = 1


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-10**12, 10**12) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner,
                                                                max_size=4),
    max_leaves=12)


@given(json_values)
def test_canonical_json_round_trips(value: object) -> None:
    """canonical() output parses back to the same value and re-serialises identically."""
    encoded = canonical(value)
    assert canonical(json.loads(encoded)) == encoded


any_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text()
    | st.sampled_from([1e-05, 9.9e-05, 1e-07, 1e+16, 5e-324, -0.0, "9e-7", "0.00001"]),
    lambda inner: st.lists(inner, max_size=4) | st.tuples(inner, inner)
    | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    | st.dictionaries(st.integers(0, 3), inner, max_size=2),
    max_leaves=16)


def reference(value: object) -> bytes:
    return json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"),
                      allow_nan=False).encode("utf-8")


@settings(max_examples=1500)
@given(any_values)
def test_canonical_writes_or_refuses_as_the_reference_serialiser(value: object) -> None:
    """orjson's fast path gives the reference's bytes for every value, floats in every
    form, big integers, tuples, odd strings and integer keys included, and whatever the
    reference refuses (NaN, infinities, lone surrogates) is refused too."""
    try:
        expected: bytes | type[Exception] = reference(value)
    except (TypeError, ValueError) as exc:
        expected = ValueError if isinstance(exc, ValueError) else TypeError
    if isinstance(expected, bytes):
        assert canonical(value) == expected
    else:
        with pytest.raises(expected):
            canonical(value)


def test_canonical_refuses_what_json_has_no_form_for() -> None:
    """A UUID, an Enum member or a datetime, which orjson would write, is refused as the
    reference refuses it, not stored as a string."""
    for value in ({"id": uuid.UUID(int=7)}, [Colour.RED], {"at": datetime(2026, 12, 3)}):
        with pytest.raises(TypeError):
            canonical(value)


async def filled(ledger: Ledger, n: int = 12) -> list[bytes]:
    for i in range(n):
        await ledger.append("access", {"who": f"auditor-{i}", "note": "ünïcode ✓"})
    await ledger.checkpoint()
    return list(ledger.store.lines())


async def test_intact_ledger_verifies(ledger: Ledger) -> None:
    """A ledger nobody touched verifies, checkpoint included."""
    await filled(ledger)
    report = ledger.verify()
    assert report.ok and report.records == 13 and report.checkpoints == 1


async def test_a_record_with_an_integer_over_64_bits_verifies_strictly(ledger: Ledger) -> None:
    """An app's context may hold any integer: the strict verify re-serialises the record,
    so it must read the integer exactly (a fast parser reads it as a float)."""
    await ledger.append("access", {"context": {"ticket": 2**70 + 1, "ratio": 1.1}})
    await ledger.checkpoint()
    assert ledger.verify().ok
    report = ledger.verify(strict=True)
    assert report.ok, report.problem


@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_any_single_byte_change_is_detected_and_located(data: st.DataObject) -> None:
    """Changing any one byte of any record makes verify fail at that record's seq."""
    lines, pem = FIXED
    index = data.draw(st.integers(0, len(lines) - 1))
    line = bytearray(lines[index])
    position = data.draw(st.integers(0, len(line) - 1))
    replacement = data.draw(st.integers(0, 255).filter(lambda b: b != line[position]))
    line[position] = replacement
    tampered = [*lines[:index], bytes(line), *lines[index + 1:]]
    report = verify_lines(tampered, pem)
    assert not report.ok and report.bad_seq == index


@settings(max_examples=30, deadline=None)
@given(data=st.data())
def test_deletion_reorder_and_insertion_are_detected(data: st.DataObject) -> None:
    """Removing, swapping or duplicating records breaks verification at the first change."""
    lines, pem = FIXED
    i = data.draw(st.integers(0, len(lines) - 2))
    deleted = lines[:i] + lines[i + 1:]
    swapped = [*lines[:i], lines[i + 1], lines[i], *lines[i + 2:]]
    inserted = [*lines[:i + 1], lines[i], *lines[i + 1:]]
    for variant in (deleted, swapped, inserted):
        report = verify_lines(variant, pem)
        assert not report.ok and report.bad_seq is not None and report.bad_seq <= i + 1


def test_reserialised_record_is_detected_in_both_modes() -> None:
    """A record rewritten with the same content but other bytes (spaces) fails verification."""
    lines, pem = FIXED
    spaced = json.dumps(json.loads(lines[0]), sort_keys=True, ensure_ascii=False).encode()
    for strict in (False, True):
        report = verify_lines([spaced, *lines[1:]], pem, strict=strict)
        assert not report.ok and report.bad_seq == 0


async def test_truncation_below_a_shipped_checkpoint_is_reported(ledger: Ledger,
                                                                 tmp_path: Path) -> None:
    """A ledger shorter than a checkpoint shipped off the machine is reported as truncated."""
    lines = await filled(ledger)
    report = verify_lines(lines[:5], ledger.public_pem, ledger.shipped_checkpoints())
    assert not report.ok and "truncated" in report.problem


async def test_signature_from_another_key_fails(ledger: Ledger, tmp_path: Path) -> None:
    """Checkpoints verified with a different public key do not pass."""
    from supervisor.ledger.signing import Signer

    lines = await filled(ledger)
    other = Signer(tmp_path / "other-key").public_pem()
    report = verify_lines(lines, other)
    assert not report.ok and "signature" in report.problem


async def test_proof_verifies_offline_and_not_when_altered(ledger: Ledger) -> None:
    """A proof checks with the public key alone; a changed path or root does not."""
    receipts = [await ledger.append("access", {"i": i}) for i in range(9)]
    await ledger.checkpoint()
    proof = ledger.prove(receipts[4].id).to_dict()
    assert verify_proof(proof, ledger.public_pem)
    forged = {**proof, "path": [("0" * 64), *proof["path"][1:]]}
    assert not verify_proof(forged, ledger.public_pem)
    assert not verify_proof({**proof, "record_hash": "1" * 64}, ledger.public_pem)


def _fixed() -> tuple[list[bytes], bytes]:
    """A small signed ledger built once for the property tests."""
    import asyncio
    import tempfile

    from supervisor.ledger import open_ledger
    from tests.ledger.conftest import settings_for

    async def build() -> tuple[list[bytes], bytes]:
        path = Path(tempfile.mkdtemp()) / "l"
        opened = await open_ledger(str(path), settings=settings_for(path, every=5))
        lines = await filled(opened, 11)
        await opened.close()
        return lines, opened.public_pem

    return asyncio.run(build())


FIXED = _fixed()


async def test_checkpoint_loop_signs_idle_records(tmp_path: Path) -> None:
    """A server's checkpoint loop signs records that no later append would have covered."""
    import asyncio

    from supervisor.ledger import open_ledger
    from supervisor.settings import Settings

    path = tmp_path / "l"
    opened = await open_ledger(str(path), settings=Settings(
        ledger=str(path), checkpoint_every=10**9, checkpoint_seconds=0.05))
    await opened.append("access", {"i": 1})
    loop = asyncio.create_task(opened.checkpoint_loop())
    try:
        for _ in range(6000):  # poll until the loop's record is there; 60 s is a guard
            kinds = [r["kind"] for r in opened.records_in_order()]
            if len(kinds) >= 2:
                break
            await asyncio.sleep(0.01)
    finally:
        loop.cancel()
    assert kinds[:2] == ["access", "checkpoint"]
    opened.store.close()
