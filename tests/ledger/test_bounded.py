"""Bounded memory: the Ledger keeps only the Merkle frontier, proofs and the frontier come
from the index's stored subtrees, another process's appends are caught up by reading
only the new records, and page totals come from counts kept in the index."""

from __future__ import annotations

import json
import os
import random
import sqlite3
import subprocess
import sys
import textwrap
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import psycopg
import pytest

from supervisor.errors import LedgerError
from supervisor.ledger import Ledger, open_ledger, verify_proof
from supervisor.ledger.export import Filter
from supervisor.ledger.index import SIDECAR, ScanQuery, SqliteIndex
from supervisor.ledger.jsonl import JsonlStore
from supervisor.ledger.merkle import BLOCK, Frontier, StoredTree, Tree, grow_nodes
from supervisor.ledger.signing import Signer
from supervisor.settings import Settings

SERVER = "postgresql://postgres@127.0.0.1:5432/test"
ACTIONS = ["allow", "block", "escalate", "revise"]


def settings_for(target: str, every: int = 10**9) -> Settings:
    return Settings(ledger=target, checkpoint_every=every, checkpoint_seconds=3600)


def tree_of(ledger: Ledger) -> Tree:
    """The reference: the whole tree, built from every stored record."""
    tree = Tree()
    for record in ledger.records_in_order():
        tree.append(bytes.fromhex(record["hash"]))
    return tree


async def fill(ledger: Ledger, count: int) -> list[str]:
    ids = []
    for i in range(count):
        body = {"action": ACTIONS[i % 4], "i": i}
        ids.append((await ledger.append("decision", body)).id)
    return ids


class Kept:
    """Leaves and stored subtrees in a dict, grown in uneven steps as an index grows."""

    def __init__(self, data: bytes, rng: random.Random) -> None:
        self.data, self.size = data, 0
        self.kept: dict[tuple[int, int], bytes] = {}
        while self.size < len(data) // 32:
            grown = min(len(data) // 32, self.size + rng.randint(1, 2 * BLOCK))
            filled, self.size = self.size // BLOCK, grown
            for level, index, digest in grow_nodes(filled, grown, self.leaves, self.node):
                self.kept[level, index] = digest

    def leaves(self, start: int, end: int) -> bytes:
        return self.data[start * 32:min(end, self.size) * 32]

    def node(self, level: int, index: int) -> bytes | None:
        return self.kept.get((level, index))

    def nodes(self, wanted: list[tuple[int, int]]) -> dict[tuple[int, int], bytes]:
        return {key: self.kept[key] for key in wanted if key in self.kept}


def test_stored_tree_answers_as_the_whole_tree() -> None:
    """Roots, proofs and frontiers from stored subtrees (grown in uneven steps) and a
    block of leaves equal those of the in-memory tree, at every size tried."""
    rng = random.Random(20)
    for n in (1, 2, BLOCK - 1, BLOCK, BLOCK + 1, 3 * BLOCK + 7, 9 * BLOCK):
        leaves = [rng.randbytes(32) for _ in range(n)]
        tree = Tree()
        for leaf in leaves:
            tree.append(leaf)
        kept = Kept(b"".join(leaves), rng)
        assert len(kept.kept) == 2 * (n // BLOCK) - (n // BLOCK).bit_count()
        for at in {n, max(1, n // 2), max(1, n - 1)}:
            stored = StoredTree(kept)
            assert stored.root(at) == tree.root(at)
            assert stored.frontier(at) == Frontier.of_tree(tree, at)
            for index in rng.sample(range(at), min(at, 12)):
                assert stored.proof(index, at) == tree.proof(index, at)


async def test_the_ledger_holds_nothing_per_record(tmp_path: Path) -> None:
    """After appends, checkpoints and proofs, no attribute of the Ledger grows with the
    number of records: the frontier holds one hash per set bit of the size."""
    target = str(tmp_path / "ledger")
    ledger = await open_ledger(target, settings=settings_for(target, every=200))
    ids = await fill(ledger, 3 * BLOCK)
    await ledger.checkpoint()
    for record_id in ids[::97]:
        assert verify_proof(ledger.prove(record_id).to_dict(), ledger.public_pem)
    frontier = ledger._frontier
    assert frontier is not None and len(frontier.hashes) == frontier.size.bit_count()
    size = frontier.size
    assert size > 3 * BLOCK
    for name, value in vars(ledger).items():
        if isinstance(value, list | dict | set | bytes | bytearray | tuple):
            assert len(value) < 64, f"Ledger.{name} holds {len(value)} items"
    await ledger.close()


async def test_a_reopened_ledger_proves_from_the_index(tmp_path: Path) -> None:
    """A proof after reopening is read from the sidecar (the frontier is never built for
    it), equals the whole tree's, and verifies; a subtree hash altered in the sidecar
    makes the path miss the signed root, which is refused rather than handed out."""
    target = str(tmp_path / "ledger")
    first = await open_ledger(target, settings=settings_for(target))
    ids = await fill(first, 2 * BLOCK + 40)
    await first.checkpoint()
    await first.close()
    ledger = await open_ledger(target, settings=settings_for(target))
    tree = tree_of(ledger)
    for record_id in (ids[0], ids[BLOCK + 3], ids[-1]):
        proof = ledger.prove(record_id)
        assert ledger._frontier is None
        assert list(proof.path) == [h.hex() for h in tree.proof(proof.seq, proof.tree_size)]
        assert verify_proof(proof.to_dict(), ledger.public_pem)
    with sqlite3.connect(Path(target) / SIDECAR) as conn:
        changed = conn.execute("UPDATE nodes SET hash = zeroblob(32) WHERE level = 8 AND "
                               "idx = 1").rowcount
    assert changed == 1
    with pytest.raises(LedgerError, match="disagrees with its checkpoint"):
        ledger.prove(ids[0])
    ledger.store.close()


class CountingStore(JsonlStore):
    """A JSONL store that notes the lines each read of the ledger asks for and gets."""

    def __init__(self, directory: Path) -> None:
        super().__init__(directory)
        self.reads: list[tuple[int, int]] = []  # (start seq, lines yielded)

    def lines(self, start: int = 0) -> Iterator[bytes]:
        self.reads.append((start, 0))
        at = len(self.reads) - 1
        for line in super().lines(start):
            self.reads[at] = (start, self.reads[at][1] + 1)
            yield line


def other_process_appends(target: str, count: int) -> None:
    script = textwrap.dedent(f"""
        import asyncio
        from supervisor.ledger import open_ledger
        from supervisor.settings import Settings
        async def main():
            s = Settings(ledger={target!r}, checkpoint_every=10**9, checkpoint_seconds=3600)
            ledger = await open_ledger(settings=s)
            for i in range({count}):
                await ledger.append("decision", {{"action": "escalate", "i": i}})
            ledger.store.close()
        asyncio.run(main())
    """)
    subprocess.run([sys.executable, "-c", script], check=True, timeout=120,
                   env={**os.environ})


async def test_another_process_appends_are_caught_up_reading_only_them(
        tmp_path: Path) -> None:
    """A checkpoint after another process appended signs the root of the whole ledger
    (as the full tree computes it), having read from the store only the new records."""
    folder = tmp_path / "ledger"
    target = str(folder)
    await (await open_ledger(target, settings=settings_for(target))).close()
    store = CountingStore(folder)
    ledger = Ledger(store, Signer(folder / "keys"), checkpoint_every=10**9,
                    checkpoint_seconds=3600)
    await fill(ledger, 3 * BLOCK)
    await ledger.checkpoint()  # the frontier, from the index
    store.reads.clear()
    other_process_appends(target, BLOCK + 5)
    receipt = await ledger.checkpoint()
    assert isinstance(ledger.query, SqliteIndex)
    assert store.reads and all(start > 3 * BLOCK for start, _ in store.reads)
    assert sum(count for _, count in store.reads) <= BLOCK + 5 + 1
    signed = json.loads(next(JsonlStore(folder, read_only=True).lines(receipt.seq)))["body"]
    assert signed["size"] == receipt.seq
    assert signed["root"] == tree_of(ledger).root(receipt.seq).hex()
    theirs = ledger.query.page(Filter(action="escalate"), limit=1).records[0]["id"]
    assert verify_proof(ledger.prove(theirs).to_dict(), ledger.public_pem)
    assert ledger.verify().ok
    await ledger.close()


def test_page_totals_come_from_the_counts(tmp_path: Path) -> None:
    """The counts the sidecar keeps per (kind, action) give the same totals as counting
    every match, through several indexing steps; the unfiltered page reads them."""
    from tests.ledger.test_index import ledger_of

    store = ledger_of(tmp_path, 37)
    index = SqliteIndex(store)
    scan = ScanQuery(store)
    for keep in (Filter(), Filter(kind="decision"), Filter(action="block"),
                 Filter(kind="decision", action="allow"), Filter(kind="review")):
        assert index.page(keep, limit=5) == scan.page(keep, limit=5)
    ledger_of(tmp_path, 0)  # nothing new: counts unchanged
    more = JsonlStore(tmp_path, segment_records=10)
    from supervisor.ledger.canonical import canonical
    from supervisor.ledger.jsonl import seal_records

    more.append(seal_records([(f"rec_m{i}", "2026-11-24T09:00:00.000000Z", "decision",
                               canonical({"i": i} if i % 3 else {"action": "block"}))
                              for i in range(13)]))
    assert index.page(Filter(), limit=5) == scan.page(Filter(), limit=5)
    assert index.page(Filter(action="block"), limit=5) == scan.page(Filter(action="block"),
                                                                   limit=5)
    with sqlite3.connect(tmp_path / SIDECAR) as conn:
        conn.execute("UPDATE counts SET n = n + 1000 WHERE action = 'block'")
    assert index.page(Filter(), limit=5).total == scan.page(Filter(), limit=5).total + 1000
    index.close()


@pytest.fixture
def pg_table() -> Iterator[str]:
    name = f"bounded_test_{uuid.uuid4().hex[:10]}"
    yield f"{SERVER}?table={name}"
    with psycopg.connect(SERVER, autocommit=True) as conn:
        for suffix in ("", "_index", "_fired", "_labels", "_nodes", "_counts",
                       "_escalations", "_backings"):
            conn.execute(f"DROP TABLE IF EXISTS {name}{suffix}")
        conn.execute(f"DROP FUNCTION IF EXISTS {name}_append_only")


@pytest.mark.postgres
async def test_postgres_proofs_and_frontier_come_from_its_side_tables(
        pg_table: str, tmp_path: Path) -> None:
    """On PostgreSQL too, a reopened ledger proves from stored subtrees and builds its
    frontier from them, and a checkpoint signs the whole tree's root; totals of an
    unfiltered page come from the counts table."""
    settings = Settings(ledger=pg_table, key_dir=str(tmp_path / "keys"),
                        checkpoint_every=10**9, checkpoint_seconds=3600)
    first = await open_ledger(pg_table, settings=settings)
    ids = await fill(first, 2 * BLOCK + 9)
    await first.checkpoint()
    await first.close()
    ledger = await open_ledger(pg_table, settings=settings)
    tree = tree_of(ledger)
    proof = ledger.prove(ids[BLOCK + 1])
    assert ledger._frontier is None
    assert list(proof.path) == [h.hex() for h in tree.proof(proof.seq, proof.tree_size)]
    assert verify_proof(proof.to_dict(), ledger.public_pem)
    await fill(ledger, 3)
    receipt = await ledger.checkpoint()
    signed = ledger.query.last_checkpoint()
    assert signed is not None and signed["size"] == receipt.seq
    assert signed["root"] == tree_of(ledger).root(receipt.seq).hex()
    scan = ScanQuery(ledger.store)
    assert ledger.query.page(Filter(), limit=3) == scan.page(Filter(), limit=3)
    assert ledger.query.page(Filter(action="block"), limit=3) == \
        scan.page(Filter(action="block"), limit=3)
    await ledger.close()


class Counting(psycopg.Cursor[Any]):
    """A psycopg cursor that keeps the statements it sends (one round trip each)."""

    sent: ClassVar[list[str]] = []

    def execute(self, query: Any, params: Any = None, **options: Any) -> Any:
        Counting.sent.append(str(query)[:60])
        return super().execute(query, params, **options)


@pytest.mark.postgres
async def test_a_postgres_proof_takes_two_round_trips(pg_table: str, tmp_path: Path) -> None:
    """A proof is the record with the latest checkpoint (and the index's catch-up check),
    then the stored subtrees with the blocks' leaves: two statements, for a leaf in a
    packed block or in the last block, not packed yet; each path is the whole tree's.
    After appends, the catch-up is a third look, and the proof still the tree's."""
    settings = Settings(ledger=pg_table, key_dir=str(tmp_path / "keys"),
                        checkpoint_every=10**9, checkpoint_seconds=3600)
    ledger = await open_ledger(pg_table, settings=settings)
    ids = await fill(ledger, 3 * BLOCK + 40)
    await ledger.checkpoint()
    tree = tree_of(ledger)
    ledger.prove(ids[0])  # the first one grows the stored subtrees to the ledger's size
    connection = ledger.query._conn  # type: ignore[attr-defined]  # PostgresQuery's own
    connection.cursor_factory = Counting
    for record_id in (ids[0], ids[BLOCK + 3], ids[2 * BLOCK], ids[3 * BLOCK + 5], ids[-1]):
        Counting.sent.clear()
        proof = ledger.prove(record_id)
        assert len(Counting.sent) == 2, Counting.sent
        assert list(proof.path) == [h.hex() for h in tree.proof(proof.seq, proof.tree_size)]
        assert verify_proof(proof.to_dict(), ledger.public_pem)
    connection.cursor_factory = psycopg.Cursor
    await fill(ledger, BLOCK)  # a block more: the stored subtrees grow at the next read
    await ledger.checkpoint()
    tree = tree_of(ledger)
    for record_id in (ids[-1], ids[BLOCK + 3]):
        proof = ledger.prove(record_id)
        assert list(proof.path) == [h.hex() for h in tree.proof(proof.seq, proof.tree_size)]
        assert verify_proof(proof.to_dict(), ledger.public_pem)
    await ledger.close()
