"""Appends: a batch is written while the one before it syncs, acknowledged only once it
and every batch before it are durable; a failed batch acknowledges none of its records
and loses none; the first checkpoint does not index the sidecar."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from supervisor.errors import LedgerError
from supervisor.ledger import Ledger, verify_proof
from supervisor.ledger.canonical import canonical, chain_hash, seal_line
from supervisor.ledger.core import _seq_and_hash
from supervisor.ledger.jsonl import JsonlStore, Seal
from supervisor.ledger.signing import Signer

WAIT = 30.0  # seconds a sync waits for the next write at most (a hang guard, not a timing)


class SteeredStore:
    """A JSONL store whose writes are counted and whose syncs a test can hold or fail."""

    def __init__(self, inner: JsonlStore) -> None:
        self.inner, self.torn = inner, inner.torn
        self.writes = 0
        self.written = [threading.Event() for _ in range(64)]  # set when write n returned
        self.hold: dict[int, int] = {}  # write n's sync waits until write m has returned
        self.fail_sync: set[int] = set()  # write n's sync raises
        self.fail_write: set[int] = set()  # write n raises before writing anything
        self.overlapped: list[int] = []  # writes whose sync saw the awaited write happen

    @property
    def name(self) -> str:
        return self.inner.name

    def append(self, seal: Seal) -> list[dict[str, Any]]:
        return self.inner.append(seal)

    def write(self, seal: Seal) -> tuple[list[dict[str, Any]], Callable[[], None]]:
        number, self.writes = self.writes, self.writes + 1
        if number in self.fail_write:
            raise OSError(f"write {number} refused")
        records, sync = self.inner.write(seal)
        self.written[number].set()

        def steered() -> None:
            if number in self.hold and self.written[self.hold[number]].wait(WAIT):
                self.overlapped.append(number)
            sync()
            if number in self.fail_sync:
                raise OSError(f"fsync {number} failed")

        return records, steered

    def lines(self, start: int = 0) -> Iterator[bytes]:
        return self.inner.lines(start)

    def close(self) -> None:
        self.inner.close()


def ledger_on(store: SteeredStore, tmp_path: Path) -> Ledger:
    return Ledger(store, Signer(tmp_path / "keys"), checkpoint_every=10**9,
                  checkpoint_seconds=3600)


def stored_ids(path: Path) -> list[str]:
    return [json.loads(line)["id"] for line in JsonlStore(path, read_only=True).lines()]


async def test_the_next_batch_is_written_while_the_first_syncs(tmp_path: Path) -> None:
    """64 appenders waiting together are written as two batches, the second before the
    first is durable; all are acknowledged, in one chain."""
    store = SteeredStore(JsonlStore(tmp_path / "l"))
    store.hold = {0: 1}  # the first sync waits for the second write
    ledger = ledger_on(store, tmp_path)
    receipts = await asyncio.gather(*(ledger.append("access", {"i": i}) for i in range(64)))
    assert store.overlapped == [0]
    assert sorted(r.seq for r in receipts) == list(range(64))
    assert ledger.verify(allow_unsigned_tail=64).ok
    await ledger.close()


async def test_a_batch_whose_sync_fails_acknowledges_none_and_loses_none(
        tmp_path: Path) -> None:
    """The first batch's fsync fails after the second batch was written: neither batch is
    acknowledged (the second chains on the first), nothing acknowledged is missing, and
    the ledger takes appends again and verifies."""
    store = SteeredStore(JsonlStore(tmp_path / "l"))
    store.hold, store.fail_sync = {0: 1}, {0}
    ledger = ledger_on(store, tmp_path)
    outcomes = await asyncio.gather(*(ledger.append("access", {"i": i}) for i in range(64)),
                                    return_exceptions=True)
    assert store.overlapped == [0]
    assert all(isinstance(o, LedgerError) for o in outcomes), outcomes
    assert "fsync 0 failed" in str(outcomes[-1])  # the second batch says why, too
    later = await asyncio.gather(*(ledger.append("access", {"j": j}) for j in range(10)))
    ids = stored_ids(tmp_path / "l")
    assert {r.id for r in later} <= set(ids)
    assert len(ids) == 74  # the failed batches' records stay in the chain, told as failed
    assert ledger.verify(allow_unsigned_tail=74).ok
    await ledger.close()


async def test_a_batch_whose_write_fails_acknowledges_none_and_loses_none(
        tmp_path: Path) -> None:
    """A write refused before anything is written fails only its own appends: the other
    batch is acknowledged, and the store holds exactly the acknowledged records."""
    store = SteeredStore(JsonlStore(tmp_path / "l"))
    store.fail_write = {0}
    ledger = ledger_on(store, tmp_path)
    outcomes = await asyncio.gather(*(ledger.append("access", {"i": i}) for i in range(64)),
                                    return_exceptions=True)
    failed = [o for o in outcomes if isinstance(o, BaseException)]
    acknowledged = [o for o in outcomes if not isinstance(o, BaseException)]
    assert failed and acknowledged
    assert all(isinstance(o, LedgerError) and "write 0 refused" in str(o) for o in failed)
    assert stored_ids(tmp_path / "l") == [r.id for r in sorted(acknowledged,
                                                               key=lambda r: r.seq)]
    assert ledger.verify(allow_unsigned_tail=64).ok
    await ledger.close()


async def test_appends_across_segment_ends_verify(tmp_path: Path) -> None:
    """Batches that start or spill into a new segment (made durable under the lock) keep
    one chain that verifies, and every acknowledged record is stored once."""
    store = JsonlStore(tmp_path / "l", segment_records=16)
    ledger = Ledger(store, Signer(tmp_path / "keys"), checkpoint_every=50,
                    checkpoint_seconds=3600)
    receipts = []
    for _ in range(4):
        receipts += await asyncio.gather(*(ledger.append("access", {"i": i})
                                           for i in range(64)))
    await ledger.close()
    assert len(store.segments()) > 10
    for number, segment in enumerate(store.segments()):  # segment k holds seqs 16k..16k+15
        seqs = [json.loads(line)["seq"] for line in segment.read_bytes().splitlines()]
        assert seqs == list(range(16 * number, 16 * number + len(seqs))) and len(seqs) <= 16
    ids = stored_ids(tmp_path / "l")
    assert len(ids) == len(set(ids)) and {r.id for r in receipts} <= set(ids)
    reopened = JsonlStore(tmp_path / "l")
    report = Ledger(reopened, Signer(tmp_path / "keys")).verify()
    reopened.close()
    assert report.ok, report.problem


async def test_the_first_checkpoint_does_not_index_the_sidecar(tmp_path: Path) -> None:
    """A writer's first checkpoint builds its frontier from what the sidecar already
    holds and the store's hashes after it, leaving the indexing to readers; the root it
    signs is the one proofs (read from the index later) lead to."""
    path, keys = tmp_path / "l", Signer(tmp_path / "keys")
    first = Ledger(JsonlStore(path), keys, checkpoint_every=10**9)
    early = [await first.append("access", {"i": i}) for i in range(300)]
    await first.checkpoint()
    assert first.query.indexed() == 0  # nothing was indexed for it
    assert first.get(early[0].id) is not None  # a read indexes: 301 records now
    assert first.query.indexed() == 301
    await first.close()
    second = Ledger(JsonlStore(path), keys, checkpoint_every=10**9)
    late = await asyncio.gather(*(second.append("access", {"j": j}) for j in range(200)))
    await second.checkpoint()  # 256 leaves from the sidecar's block, the rest from lines
    assert second.query.indexed() == 301
    for receipt in (early[0], early[-1], late[0], late[-1]):
        assert verify_proof(second.prove(receipt.id).to_dict(), keys.public_pem())
    assert second.verify().ok
    await second.close()


@pytest.mark.parametrize("record_id, ts", [
    ("rec_0123", "2026-01-02T03:04:05.000006Z"),
    ('an "id" with quotes\\', "tab\there"),
    ("é ü 雪", "\x7f\x00"),
])
def test_sealed_lines_are_canonical(record_id: str, ts: str) -> None:
    """seal_line writes the fields after the body itself: the same bytes, and the same
    hash, as canonical() of the whole record, whatever the strings hold."""
    body = {"b": [1, "x"], "a": {"seq": 9, "hash": "h"}}
    digest, line = seal_line(7, record_id, ts, "access", canonical(body), "ab" * 32)
    record = {"seq": 7, "id": record_id, "ts": ts, "kind": "access", "body": body,
              "prev_hash": "ab" * 32}
    assert digest == chain_hash("ab" * 32, record)
    assert line == canonical({**record, "hash": digest})
    assert _seq_and_hash(line) == (7, digest)  # the body's own "seq" and "hash" aside
