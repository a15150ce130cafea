"""The PostgreSQL store for real: append-only by trigger, one chain across processes."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import textwrap
import uuid
from collections.abc import Iterator

import psycopg
import pytest

from supervisor.ledger import open_ledger
from supervisor.settings import Settings

pytestmark = pytest.mark.postgres
SERVER = "postgresql://postgres@127.0.0.1:5432/test"


@pytest.fixture
def url() -> Iterator[str]:
    table = f"ledger_test_{uuid.uuid4().hex[:10]}"
    yield f"{SERVER}?table={table}"
    with psycopg.connect(SERVER, autocommit=True) as conn:
        for suffix in ("", "_index", "_fired", "_labels", "_nodes", "_counts",
                       "_escalations", "_backings"):
            conn.execute(f"DROP TABLE IF EXISTS {table}{suffix}")
        conn.execute(f"DROP FUNCTION IF EXISTS {table}_append_only")


def settings(url: str, tmp: str) -> Settings:
    return Settings(ledger=url, key_dir=tmp, checkpoint_every=10**9, checkpoint_seconds=3600)


async def test_update_delete_and_truncate_are_refused(url: str, tmp_path: object) -> None:
    """The trigger refuses every statement that would rewrite history."""
    ledger = await open_ledger(url, settings=settings(url, str(tmp_path)))
    await ledger.append("access", {"i": 1})
    ledger.store.close()
    table = url.rsplit("=", 1)[1]
    with psycopg.connect(SERVER, autocommit=True) as conn:
        for statement in (f"UPDATE {table} SET kind = 'x'", f"DELETE FROM {table}",
                          f"TRUNCATE {table}"):
            with pytest.raises(psycopg.errors.RaiseException, match="append-only"):
                conn.execute(statement)


async def test_two_processes_append_one_valid_chain(url: str, tmp_path: object) -> None:
    """Two processes appending concurrently produce one chain that verifies."""
    script = textwrap.dedent(f"""
        import asyncio
        from supervisor.ledger import open_ledger
        from supervisor.settings import Settings
        async def main():
            s = Settings(ledger={url!r}, key_dir={str(tmp_path)!r},
                         checkpoint_every=10**9, checkpoint_seconds=3600)
            ledger = await open_ledger(settings=s)
            await asyncio.gather(*(ledger.append("access", {{"i": i}}) for i in range(300)))
            ledger.store.close()
        asyncio.run(main())
    """)
    procs = [subprocess.Popen([sys.executable, "-c", script]) for _ in range(2)]
    assert [p.wait(timeout=120) for p in procs] == [0, 0]
    ledger = await open_ledger(url, settings=settings(url, str(tmp_path)))
    await ledger.checkpoint()
    report = await asyncio.to_thread(ledger.verify)
    assert report.ok and report.records == 601
    ledger.store.close()


async def test_lines_are_read_back_byte_for_byte_from_any_seq(url: str, tmp_path: object) -> None:
    """The stored lines, streamed by COPY, are the sealed bytes (non-ASCII text, a quote
    and a backslash included), in order, from the seq asked for; the chain verifies."""
    ledger = await open_ledger(url, settings=settings(url, str(tmp_path)))
    for i in range(5):
        await ledger.append("access", {"i": i, "note": 'ünïcode ✓ "quoted" \\ back\tslash'})
    await ledger.checkpoint()
    table = url.rsplit("=", 1)[1]
    with psycopg.connect(SERVER) as conn:
        stored = [line.encode() for (line,) in conn.execute(
            f"SELECT line FROM {table} ORDER BY seq")]
    assert list(ledger.store.lines()) == stored
    assert list(ledger.store.lines(3)) == stored[3:]
    assert len(stored) == 6 and all(isinstance(line, bytes) for line in ledger.store.lines(4))
    report = await asyncio.to_thread(ledger.verify)
    assert report.ok and report.records == 6, report.problem
    ledger.store.close()


async def test_the_store_and_its_index_never_jit_compile(url: str, tmp_path: object) -> None:
    """JIT stays off on the connections a ledger reads and writes through: a proof's
    query, estimated at a million rows, spent 200 ms compiling for 1 ms of work."""
    ledger = await open_ledger(url, settings=settings(url, str(tmp_path)))
    query = ledger.query
    assert ledger.store._conn.execute("SHOW jit").fetchone() == ("off",)
    assert query._conn.execute("SHOW jit").fetchone() == ("off",)
    ledger.store.close()
