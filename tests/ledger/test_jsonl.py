"""The JSONL store: group commit, torn-tail recovery, several processes, and SIGKILL."""

from __future__ import annotations

import asyncio
import json
import os
import random
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from supervisor.ledger import Ledger, open_ledger
from supervisor.ledger.jsonl import JsonlStore, Seal
from supervisor.ledger.signing import Signer
from tests.ledger.conftest import settings_for


class CountingStore:
    """A Store that passes everything to a JSONL store and counts durable writes."""

    def __init__(self, inner: JsonlStore) -> None:
        self.inner, self.writes, self.torn = inner, 0, inner.torn

    @property
    def name(self) -> str:
        return self.inner.name

    def append(self, seal: Seal) -> list[dict[str, Any]]:
        self.writes += 1
        return self.inner.append(seal)

    def lines(self, start: int = 0) -> Iterator[bytes]:
        return self.inner.lines(start)

    def close(self) -> None:
        self.inner.close()


async def test_lines_longer_than_the_first_tail_read_are_repaired_and_continued(
        tmp_path: Path) -> None:
    """The tail is read from the end in growing windows: a torn line, and the complete
    record before it, each longer than the first 4 KiB read, are still cut and read whole."""
    path = tmp_path / "l"
    first = await open_ledger(str(path), settings=settings_for(path))
    for i in range(2):
        await first.append("access", {"i": i, "note": "x" * 9000})
    first.store.close()
    segment = next(path.glob("ledger-*.jsonl"))
    partial = b'{"body":{"i":2,"note":"' + b"y" * 20000
    with segment.open("ab") as handle:
        handle.write(partial)
    reopened = await open_ledger(str(path), settings=settings_for(path))
    assert [r["body"].get("i") for r in reopened.records_in_order()] == [0, 1, None]
    (torn,) = path.glob("torn-*.jsonl")
    assert torn.read_bytes() == partial
    assert reopened.store.next_seq == 3  # the head was read from the long last record
    assert reopened.verify(allow_unsigned_tail=3).ok
    await reopened.close()


async def test_concurrent_appenders_share_fsyncs_and_form_one_chain(tmp_path: Path) -> None:
    """200 concurrent appends all land, in far fewer disk writes than records, and verify."""
    store = CountingStore(JsonlStore(tmp_path / "l"))
    ledger = Ledger(store, Signer(tmp_path / "keys"), checkpoint_every=10**9)
    receipts = await asyncio.gather(*(ledger.append("access", {"i": i}) for i in range(200)))
    assert sorted(r.seq for r in receipts) == list(range(200))
    assert store.writes < 20
    assert ledger.verify(allow_unsigned_tail=200).ok
    await ledger.close()


async def test_torn_tail_is_moved_aside_and_recorded(tmp_path: Path) -> None:
    """A half-written last line is cut, kept in a torn-* file, and a recovery record added."""
    path = tmp_path / "l"
    first = await open_ledger(str(path), settings=settings_for(path))
    for i in range(3):
        await first.append("access", {"i": i})
    first.store.close()
    segment = next(path.glob("ledger-*.jsonl"))
    with segment.open("ab") as handle:
        handle.write(b'{"body":{"i":3},"hash":"ab')
    reopened = await open_ledger(str(path), settings=settings_for(path))
    records = list(reopened.records_in_order())
    assert [r["kind"] for r in records] == ["access"] * 3 + ["recovery"]
    assert "torn" in records[-1]["body"]["problem"]
    torn = list(path.glob("torn-*.jsonl"))
    assert torn and torn[0].read_bytes() == b'{"body":{"i":3},"hash":"ab'
    assert reopened.verify(allow_unsigned_tail=4).ok
    await reopened.close()


async def test_two_processes_share_one_chain(tmp_path: Path) -> None:
    """Two processes appending to one directory interleave into one valid chain."""
    path = tmp_path / "l"
    script = textwrap.dedent(f"""
        import asyncio
        from supervisor.ledger import open_ledger
        from supervisor.settings import Settings
        async def main():
            s = Settings(ledger={str(path)!r}, checkpoint_every=10**9, checkpoint_seconds=3600)
            ledger = await open_ledger(settings=s)
            for i in range(100):
                await ledger.append("access", {{"i": i}})
            ledger.store.close()
        asyncio.run(main())
    """)
    procs = [subprocess.Popen([sys.executable, "-c", script]) for _ in range(2)]
    assert [p.wait(timeout=120) for p in procs] == [0, 0]
    opened = await open_ledger(str(path), settings=settings_for(path))
    report = opened.verify(allow_unsigned_tail=200)
    assert report.ok and report.records == 200
    opened.store.close()


CRASHER = """
import asyncio, sys
from supervisor.ledger import open_ledger
from supervisor.settings import Settings
async def main():
    s = Settings(ledger=sys.argv[1], checkpoint_every=50, checkpoint_seconds=3600)
    ledger = await open_ledger(settings=s)
    async def worker(w):
        for i in range(100000):
            receipt = await ledger.append("access", {"w": w, "i": i, "pad": "x" * 200})
            print(receipt.id, flush=True)
    await asyncio.gather(*(worker(w) for w in range(64)))
asyncio.run(main())
"""


async def test_sigkill_loses_no_acknowledged_record(tmp_path: Path) -> None:
    """Killed at random moments, every record acknowledged before the kill survives."""
    path = tmp_path / "l"
    rng = random.Random(7)
    acknowledged: list[str] = []
    for _ in range(3):
        proc = subprocess.Popen([sys.executable, "-c", CRASHER, str(path)],
                                stdout=subprocess.PIPE, text=True)
        time.sleep(1.5 + rng.random())
        os.kill(proc.pid, signal.SIGKILL)
        out, _ = proc.communicate(timeout=30)
        acknowledged += [line for line in out.splitlines() if line.startswith("rec_")]
    opened = await open_ledger(str(path), settings=settings_for(path))
    stored = {r["id"] for r in opened.records_in_order()}
    assert acknowledged and set(acknowledged) <= stored
    await opened.checkpoint()
    assert opened.verify().ok
    opened.store.close()


async def test_unwritable_directory_is_a_clear_error(tmp_path: Path) -> None:
    """A ledger path that cannot be a directory gives a LedgerError saying what to set."""
    from supervisor.errors import LedgerError

    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    try:
        await open_ledger(str(blocker / "l"), settings=settings_for(blocker / "l"))
    except LedgerError as exc:
        assert "SUPERVISOR_LEDGER" in str(exc)
    else:
        raise AssertionError("opening a ledger under a file must fail")


def test_records_are_canonical_lines(tmp_path: Path) -> None:
    """Each stored line parses as JSON with the seven record fields."""
    async def run() -> list[bytes]:
        path = tmp_path / "l"
        opened = await open_ledger(str(path), settings=settings_for(path))
        await opened.append("access", {"x": 1})
        opened.store.close()
        return list(opened.store.lines())

    (line,) = asyncio.run(run())
    assert set(json.loads(line)) == {"seq", "id", "ts", "kind", "body", "prev_hash", "hash"}
