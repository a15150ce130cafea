"""Many writers on one ledger: checkpoints follow others' appends, lock waits are bounded.

Scenarios that once hung for good run in child processes with a generous timeout, so a
regression fails the test instead of hanging the suite.
"""

from __future__ import annotations

import asyncio
import fcntl
import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from supervisor.errors import LedgerError
from supervisor.ledger import Ledger, open_ledger
from supervisor.ledger.jsonl import JsonlStore
from supervisor.ledger.signing import Signer
from supervisor.settings import Settings
from tests.ledger.conftest import settings_for

HANG = 180  # seconds before a child that should take a few is called hung

WRITER = textwrap.dedent("""
    import asyncio, sys
    from supervisor.ledger import open_ledger
    from supervisor.settings import Settings

    async def main(target, key_dir, name, count):
        settings = Settings(ledger=target, key_dir=key_dir, checkpoint_every=3,
                            checkpoint_seconds=0.05)
        ledger = await open_ledger(settings=settings)
        ledger.quiet_seconds = 0.02
        loop = asyncio.create_task(ledger.checkpoint_loop())
        for start in range(0, count, 8):  # 8 concurrent appenders, like a busy server
            await asyncio.gather(*(ledger.append("access", {"w": name, "i": i})
                                   for i in range(start, min(start + 8, count))))
        loop.cancel()
        await asyncio.gather(loop, return_exceptions=True)
        await ledger.close()

    asyncio.run(main(sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])))
""")


def _two_writers(target: str, key_dir: Path, count: int) -> None:
    procs = [subprocess.Popen([sys.executable, "-c", WRITER, target, str(key_dir), name,
                               str(count)]) for name in ("a", "b")]
    try:
        assert [p.wait(timeout=HANG) for p in procs] == [0, 0]
    finally:
        for p in procs:
            p.kill()


async def _check_shared(target: str, key_dir: Path, count: int) -> None:
    settings = Settings(ledger=target, key_dir=str(key_dir), checkpoint_every=10**9)
    ledger = await open_ledger(settings=settings)
    records = list(ledger.records_in_order())
    written = sorted((r["body"]["w"], r["body"]["i"]) for r in records
                     if r["kind"] == "access")
    assert written == sorted((w, i) for w in "ab" for i in range(count))
    report = await asyncio.to_thread(ledger.verify)
    assert report.ok, report.problem
    assert report.checkpoints > 10 and report.unsigned_tail == 0
    ledger.store.close()


async def test_two_jsonl_writers_with_frequent_checkpoints_finish_and_verify(
        tmp_path: Path) -> None:
    """Two processes appending under load, each checkpointing every 3 records, both
    finish, and the shared chain verifies with every record signed."""
    target = str(tmp_path / "ledger")
    _two_writers(target, tmp_path / "keys", 300)
    await _check_shared(target, tmp_path / "keys", 300)


@pytest.mark.postgres
async def test_two_postgres_writers_with_frequent_checkpoints_finish_and_verify(
        tmp_path: Path) -> None:
    """The same on one PostgreSQL table: no writer is left holding the append lock."""
    import uuid

    import psycopg

    server = "postgresql://postgres@127.0.0.1:5432/test"
    table = f"ledger_writers_{uuid.uuid4().hex[:10]}"
    try:
        _two_writers(f"{server}?table={table}", tmp_path / "keys", 200)
        await _check_shared(f"{server}?table={table}", tmp_path / "keys", 200)
    finally:
        with psycopg.connect(server, autocommit=True) as conn:
            for suffix in ("", "_index", "_fired", "_labels", "_nodes", "_counts",
                           "_escalations", "_backings"):
                conn.execute(f"DROP TABLE IF EXISTS {table}{suffix}")
            conn.execute(f"DROP FUNCTION IF EXISTS {table}_append_only")


FOLLOW = textwrap.dedent("""
    import asyncio, sys
    from supervisor.ledger import open_ledger
    from supervisor.settings import Settings

    async def main(target):
        settings = Settings(ledger=target, checkpoint_every=10**9, checkpoint_seconds=3600)
        first, second = await open_ledger(settings=settings), await open_ledger(settings=settings)
        await first.append("access", {"by": "first"})
        await first.checkpoint()              # first now follows the tree in memory
        late = [await second.append("access", {"by": "second", "i": i}) for i in range(3)]
        receipt = await first.checkpoint()   # must take in second's three records
        proof = await asyncio.to_thread(first.prove, late[-1].id)
        print(receipt.seq, proof.tree_size)
        first.store.close(); second.store.close()

    asyncio.run(main(sys.argv[1]))
""")


def test_a_checkpoint_takes_in_records_another_writer_appended(tmp_path: Path) -> None:
    """A writer whose tree is behind the store (another writer appended) signs a
    checkpoint over all of it, and proves the other writer's record, instead of spinning."""
    done = subprocess.run([sys.executable, "-c", FOLLOW, str(tmp_path / "l")],
                          capture_output=True, text=True, timeout=HANG, check=True)
    seq, size = map(int, done.stdout.split())
    assert (seq, size) == (5, 5)  # 1 + checkpoint + 3 others, signed at size 5


async def test_checkpoints_racing_appends_in_one_process_stay_consistent(
        tmp_path: Path) -> None:
    """Checkpoints started while flushes are in flight (a server's timed checkpoint)
    neither hang nor sign a root that differs from the records."""
    ledger = await open_ledger(str(tmp_path / "l"), settings=settings_for(tmp_path / "l"))

    async def appends() -> None:
        for i in range(40):
            await asyncio.gather(*(ledger.append("access", {"i": i, "j": j})
                                   for j in range(5)))

    async def checkpoints() -> None:
        for _ in range(40):
            await ledger.checkpoint()
            await asyncio.sleep(0)

    await asyncio.wait_for(asyncio.gather(appends(), checkpoints()), HANG)
    await ledger.checkpoint()
    report = ledger.verify()
    assert report.ok and report.checkpoints == 41 and report.records == 241
    await ledger.close()


async def test_a_held_lock_makes_appends_fail_clearly_and_health_say_so(
        tmp_path: Path) -> None:
    """While another process holds the store's lock past the timeout, an append fails
    with a LedgerError saying so, health() reports it, and both recover once released."""
    store = JsonlStore(tmp_path / "l", lock_timeout=0.2)
    ledger = Ledger(store, Signer(tmp_path / "keys"), checkpoint_every=10**9)
    await ledger.append("access", {"i": 0})
    assert await ledger.health(bound=5) == ""
    with (tmp_path / "l" / ".lock").open("a") as other:
        fcntl.flock(other.fileno(), fcntl.LOCK_EX)  # a stuck writer elsewhere
        try:
            with pytest.raises(LedgerError, match="stayed locked"):
                await asyncio.wait_for(ledger.append("access", {"i": 1}), HANG)
            assert "last append failed" in await ledger.health(bound=5)
        finally:
            fcntl.flock(other.fileno(), fcntl.LOCK_UN)
    assert await ledger.health(bound=5) == ""  # recovers without an append
    await ledger.append("access", {"i": 2})
    assert [json.loads(line)["body"]["i"] for line in store.lines()] == [0, 2]
    await ledger.close()


async def test_a_long_wait_for_the_lock_shows_in_health_before_it_fails(
        tmp_path: Path) -> None:
    """An append still waiting for the lock past the bound is reported by health()."""
    store = JsonlStore(tmp_path / "l", lock_timeout=HANG)
    ledger = Ledger(store, Signer(tmp_path / "keys"), checkpoint_every=10**9)
    with (tmp_path / "l" / ".lock").open("a") as other:
        fcntl.flock(other.fileno(), fcntl.LOCK_EX)
        try:
            waiting = asyncio.create_task(ledger.append("access", {"i": 1}))
            for _ in range(HANG * 20):
                if await ledger.health(bound=0.05):
                    break
                await asyncio.sleep(0.05)
            assert "has waited" in await ledger.health(bound=0.05)
        finally:
            fcntl.flock(other.fileno(), fcntl.LOCK_UN)
    await waiting
    assert await ledger.health(bound=0.05) == ""
    await ledger.close()


async def test_the_checkpoint_loop_signs_soon_after_appends_stop(tmp_path: Path) -> None:
    """With a long checkpoint interval, a quiet spell after the last append is enough
    for the server's loop to sign, so the unsigned tail stays small."""
    path = tmp_path / "l"
    ledger = await open_ledger(str(path), settings=Settings(
        ledger=str(path), checkpoint_every=10**9, checkpoint_seconds=3600))
    ledger.quiet_seconds = 0.05
    loop = asyncio.create_task(ledger.checkpoint_loop())
    try:
        await ledger.append("access", {"i": 1})
        for _ in range(HANG * 20):
            if ledger.verify().ok:
                break
            await asyncio.sleep(0.05)
        report = ledger.verify()
        assert report.ok and report.checkpoints == 1 and report.unsigned_tail == 0
    finally:
        loop.cancel()
        await asyncio.gather(loop, return_exceptions=True)
    await ledger.close()


def test_reading_from_a_seq_seeks_and_survives_a_segment_boundary(tmp_path: Path) -> None:
    """lines(start) yields exactly the records from `start`, across segments, whether the
    start was seen by this store or not."""
    from supervisor.ledger.canonical import canonical
    from supervisor.ledger.jsonl import seal_records

    writer = JsonlStore(tmp_path / "l", segment_records=4)  # small segments, same paths
    for batch in range(5):
        writer.append(seal_records([(f"r{batch}-{i}", "t", "access", canonical({"i": i}))
                                    for i in range(3)]))
    assert len(writer.segments()) == 4
    reader = JsonlStore(tmp_path / "l", segment_records=4)  # knows no positions yet
    for store in (writer, reader):
        for start in range(16):
            assert [json.loads(line)["seq"] for line in store.lines(start)] == \
                list(range(start, 15))
