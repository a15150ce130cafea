"""The Ledger: group commit, checkpoints, proofs and reads over one Store.

Appenders queue their entries and wait; a flush seals what is queued against the current
head and writes it in one write, so many concurrent appenders share the cost of a disk
sync. Where the store can write and sync in two steps (JSONL), the next batch is sealed
and written while the one before it syncs, and appenders who all arrive at once are
written as two such batches; a batch is acknowledged only once its sync and that of the
batch it follows have returned, and fails (every append of it) if either failed. None is
acknowledged early.
Every `checkpoint_every` records or `checkpoint_seconds` (checked at append and at
close), and by a server's `checkpoint_loop` within `quiet_seconds` of the last append, an
Ed25519-signed checkpoint of (size, Merkle root, head) is appended and also written to
`checkpoints.jsonl`, a file meant to be shipped off the machine.

Memory stays bounded however long the ledger: the Ledger keeps only the Merkle tree's
frontier (one hash per set bit of its size), taken the first time a checkpoint needs it
from the subtrees the read index already holds and the store's hashes after them (the
index is not brought up to date for it). Records, their ids, hashes and checkpoints
stay in the store and its index (`supervisor.ledger.index`), which also hold the subtree
hashes proofs are built from (`supervisor.ledger.merkle.StoredTree`).

Several processes may append to one store. The frontier follows the store incrementally:
records another process appended are read from the store by seq (only the new ones),
both when our own append returns them and when a checkpoint is sealed under the store's
lock. Nothing here waits on another process except through the store, whose lock wait is
bounded.
"""

from __future__ import annotations

import asyncio
import json
import os
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from supervisor.decision import Decision
from supervisor.errors import LedgerError, NotCovered, UnknownRecord
from supervisor.ledger.canonical import canonical
from supervisor.ledger.ids import new_id
from supervisor.ledger.index import Query, open_query
from supervisor.ledger.jsonl import Seal, seal_records
from supervisor.ledger.merkle import Frontier, StoredTree, root_from_proof
from supervisor.ledger.records import decision_body
from supervisor.ledger.signing import Signer, key_id, statement, verify_signature
from supervisor.ledger.verify import VerifyReport, verify_lines

KINDS = frozenset({"decision", "review", "constitution", "checkpoint", "recovery", "access",
                   "export", "proposal", "approval", "rejection", "replay", "erasure"})
QUIET_S = 1.0  # a server signs a checkpoint this long after the last append
BATCH = 4096  # records sealed and written at once, at most
WAYS = 2  # a queue is written as up to this many batches, the later ones while the
SPLIT = 8  # earlier ones sync, when each would still hold this many records


class Store(Protocol):
    """Where sealed records live (JSONL segments, PostgreSQL)."""

    torn: list[str]

    @property
    def name(self) -> str:
        """Where the records are, for recovery records and messages."""
        ...

    def append(self, seal: Seal) -> list[dict[str, Any]]:
        """Seal against the current head and store durably; returns new records."""
        ...

    def lines(self, start: int = 0) -> Iterator[bytes]:
        """Stored records' canonical lines from seq `start` on, in order."""
        ...

    def close(self) -> None:
        """Release files or connections."""
        ...


@dataclass(frozen=True, slots=True)
class Receipt:
    """Where an appended record landed."""

    seq: int
    id: str
    hash: str


@dataclass(frozen=True, slots=True)
class Proof:
    """An RFC 6962 inclusion proof of one record under a signed checkpoint."""

    record_id: str
    seq: int
    record_hash: str
    tree_size: int
    root: str
    path: tuple[str, ...]
    checkpoint: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        return {"record_id": self.record_id, "seq": self.seq, "record_hash": self.record_hash,
                "tree_size": self.tree_size, "root": self.root, "path": list(self.path),
                "checkpoint": self.checkpoint}


def verify_proof(proof: Mapping[str, Any], public_pem: bytes) -> bool:
    """Offline check: the path leads to the root, and the key signed that root."""
    try:
        root = root_from_proof(bytes.fromhex(proof["record_hash"]), int(proof["seq"]),
                               int(proof["tree_size"]),
                               [bytes.fromhex(h) for h in proof["path"]])
        cp = proof["checkpoint"]
        signed = statement(int(cp["size"]), cp["root"], cp["head"], cp["time"])
    except (KeyError, TypeError, ValueError):
        return False
    return (root.hex() == proof["root"] == cp["root"]
            and int(cp["size"]) == int(proof["tree_size"])
            and verify_signature(public_pem, signed, cp["signature"]))


class Ledger:
    """The append-only, hash-chained, checkpointed audit log."""

    def __init__(self, store: Store, signer: Signer, *, checkpoint_every: int = 1000,
                 checkpoint_seconds: float = 60.0, quiet_seconds: float = QUIET_S,
                 checkpoint_file: Path | None = None) -> None:
        self.store = store
        self.signer = signer
        self.checkpoint_every = checkpoint_every
        self.checkpoint_seconds = checkpoint_seconds
        self.quiet_seconds = quiet_seconds
        self.checkpoint_file = checkpoint_file
        self._queue: list[tuple[tuple[str, str, str, bytes], asyncio.Future[Any]]] = []
        self._flushing: asyncio.Task[None] | None = None
        self._syncing: asyncio.Task[str] | None = None  # the last written batch's `_settle`
        self._in_flight = 0  # batches written and not yet durable
        # the store's two-step write (written, then synced), where it has one (JSONL)
        self._write_then_sync: Callable[[Seal], tuple[list[dict[str, Any]],
                                                      Callable[[], None]]] | None = \
            getattr(store, "write", None)
        self._frontier: Frontier | None = None  # the Merkle tree's right edge, once needed
        self._since_checkpoint = 0
        self._last_checkpoint = time.monotonic()
        self._last_append = time.monotonic()
        self._writing_since: float | None = None  # when the store write in flight began
        self._failure = ""  # the last store write's error, until one succeeds
        self._sync_lock = asyncio.Lock()
        self._tree_lock = threading.RLock()  # the tree is followed from worker threads too
        self._query: Query | None = None  # the read index, opened by `query`

    @property
    def public_pem(self) -> bytes:
        return self.signer.public_pem()

    # -- appending --------------------------------------------------------------------

    async def append(self, kind: str, body: Mapping[str, Any]) -> Receipt:
        """Append one record; returns once it is durable."""
        if kind not in KINDS:
            raise LedgerError(f"unknown record kind {kind!r}; use one of {sorted(KINDS)}")
        try:
            encoded = canonical(dict(body))  # serialised once, here, for hash and line
        except (TypeError, ValueError) as exc:
            raise LedgerError(f"a {kind} record body must be JSON data: {exc}") from None
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        entry = (new_id(), _now(), kind, encoded)
        self._queue.append((entry, future))
        if self._flushing is None or self._flushing.done():
            self._flushing = asyncio.create_task(self._flush())
        record: dict[str, Any] = await future
        return Receipt(record["seq"], record["id"], record["hash"])

    async def record(self, decision: Decision, *, store_text: str = "redacted") -> str:
        """Append a decision record (one per stage); returns the record id."""
        inbound = decision.input_decision.record_id if decision.input_decision else None
        try:
            body = await asyncio.to_thread(decision_body, decision, store_text=store_text,
                                           input_record=inbound)
        except Exception as exc:  # a failed redaction must never store raw text
            body = decision_body(decision, store_text="none", input_record=inbound)
            body["redaction_error"] = f"{type(exc).__name__}: {exc}; no text stored"
        return (await self.append("decision", body)).id

    async def _flush(self) -> None:
        """Write what is queued, a batch at a time, and hand each to `_settle`.

        The next batch is written while the one before it syncs. With nothing syncing, a
        long queue is written as two batches, so that sealing and writing one overlaps
        the other's fsync (appenders who each wait for their record arrive together).
        """
        while self._queue:
            take = min(len(self._queue), BATCH)
            ways = WAYS - self._in_flight if self._write_then_sync else 1  # for this queue
            if ways > 1 and take >= ways * SPLIT:
                take = -(-take // ways)
            batch, self._queue = self._queue[:take], self._queue[take:]
            try:
                async with self._sync_lock:  # store write and tree update as one step
                    stored, synced = await self._write_only(
                        seal_records([e for e, _ in batch]))
                    self._observe(stored)
            except Exception as exc:  # every waiter must hear of it
                for _, future in batch:
                    if not future.done():
                        future.set_exception(LedgerError(f"append failed: {exc}"))
                continue
            self._in_flight += 1
            before = self._syncing  # a failure already told is not passed on again
            self._syncing = asyncio.create_task(self._settle(
                batch, stored, synced, before if before and not before.done() else None))
            await self._maybe_checkpoint()

    async def _settle(self, batch: list[tuple[tuple[str, str, str, bytes],
                                              asyncio.Future[Any]]],
                      stored: list[dict[str, Any]], synced: asyncio.Future[None],
                      before: asyncio.Task[str] | None) -> str:
        """Acknowledge a written batch once it is durable and so is the batch still
        syncing when it was written (its records chain on those); else fail all of its
        appends. Returns why it failed ('' when it did not)."""
        why = told = ""
        try:
            await synced
        except Exception as exc:
            self._failure = str(exc)
            why = told = f"append failed: {exc}"
        finally:
            self._in_flight -= 1
        if before is not None:
            earlier = await before
            if earlier and not why:
                why, told = earlier, f"{earlier} (in an earlier batch this one follows)"
        if not why:
            self._last_append, self._failure = time.monotonic(), ""
        ours = {r["id"]: r for r in stored}
        for entry, future in batch:
            if future.done():
                continue
            if why:
                future.set_exception(LedgerError(told))
            else:
                future.set_result(ours[entry[0]])
        return why

    async def _write_only(self, seal: Seal) -> tuple[list[dict[str, Any]],
                                                      asyncio.Future[None]]:
        """Seal and write in a thread; returns the records written and a future that is
        done when they are durable. The same thread then syncs them, so a batch costs one
        thread hop. A store without `write` (only `append`) is durable at once."""
        loop = asyncio.get_running_loop()
        synced: asyncio.Future[None] = loop.create_future()
        write = self._write_then_sync
        if write is None:
            stored = await self._write(seal)
            synced.set_result(None)
            return stored, synced
        written: asyncio.Future[list[dict[str, Any]]] = loop.create_future()

        def work() -> None:
            try:
                records, sync = write(seal)
            except BaseException as exc:
                loop.call_soon_threadsafe(_resolve, written, exc, None)
                return
            loop.call_soon_threadsafe(_resolve, written, None, records)
            try:
                sync()
            except BaseException as exc:
                loop.call_soon_threadsafe(_resolve, synced, exc, None)
                return
            loop.call_soon_threadsafe(_resolve, synced, None, None)

        self._writing_since = time.monotonic()
        loop.run_in_executor(None, work)
        try:
            stored = await written
        except Exception as exc:
            self._failure = str(exc)
            raise
        finally:
            self._writing_since = None
        return stored, synced

    async def _write(self, seal: Seal) -> list[dict[str, Any]]:
        """One store append in a thread, timed and its failure kept for `health`."""
        self._writing_since = time.monotonic()
        try:
            stored = await asyncio.to_thread(self.store.append, seal)
        except Exception as exc:
            self._failure = str(exc)
            raise
        finally:
            self._writing_since = None
        self._failure = ""
        return stored

    async def health(self, bound: float) -> str:
        """Empty when appends go through; else why not (for /readyz).

        A write waiting longer than `bound` seconds (another writer holds the store) is
        reported at once. After a failed write, an empty write (the store's lock taken,
        nothing added) is tried, so the ledger turns healthy again without traffic.
        """
        if self._writing_since is not None:
            waited = time.monotonic() - self._writing_since
            if waited > bound:
                return f"an append has waited {waited:.1f} s (bound {bound:g} s)"
        elif self._failure:
            try:
                async with self._sync_lock:
                    self._observe(await self._write(lambda next_seq, head: []))
            except Exception:  # the failure is kept in _failure and reported below
                pass
        return f"the last append failed: {self._failure}" if self._failure else ""

    def _observe(self, records: list[dict[str, Any]]) -> None:
        """Keep the frontier and the unsigned count in step with the store.

        `records` are what a write returned (others' records, then ours). Records already
        known are skipped; a gap before them (records appended by another process that
        no write of ours returned) is read from the store by seq.
        """
        with self._tree_lock:
            if self._frontier is not None:
                fresh = [r for r in records if r["seq"] >= self._frontier.size]
                if fresh:
                    self._catch_up(self._frontier, fresh[0]["seq"])
                for r in fresh:
                    self._frontier.append(bytes.fromhex(r["hash"]))
        for r in records:
            self._since_checkpoint = 0 if r["kind"] == "checkpoint" \
                else self._since_checkpoint + 1

    def _catch_up(self, frontier: Frontier, until: int | None = None) -> None:
        """Read records [frontier.size, until) from the store into the frontier (None: to
        the store's end)."""
        with self._tree_lock:
            if until is not None and frontier.size >= until:
                return
            hashes = getattr(self.store, "hashes", None)  # PostgreSQL: on its connection
            found: Iterator[tuple[int, str]] = iter(hashes(frontier.size, until)) \
                if hashes is not None else map(_seq_and_hash, self.store.lines(frontier.size))
            for seq, digest in found:
                if seq != frontier.size or (until is not None and seq >= until):
                    break
                frontier.append(bytes.fromhex(digest))
            if until is not None and frontier.size < until:
                raise LedgerError(f"{self.store.name} holds {frontier.size} records, but "
                                  f"its head says {until}; run `supervisor audit verify`")

    async def _maybe_checkpoint(self, *, force: bool = False) -> None:
        due = (self._since_checkpoint >= self.checkpoint_every
               or time.monotonic() - self._last_checkpoint >= self.checkpoint_seconds)
        if self._since_checkpoint and (due or force):
            await self.checkpoint()

    async def checkpoint(self) -> Receipt:
        """Sign (size, root, head) of everything stored so far; append it and ship it."""
        async with self._sync_lock:
            frontier = await asyncio.to_thread(self._ensure_frontier)
            body: dict[str, Any] = {}

            def seal(next_seq: int, head: str) -> list[dict[str, Any]]:
                self._catch_up(frontier, next_seq)  # records others appended meanwhile
                if frontier.size != next_seq:
                    raise LedgerError(f"the Merkle frontier is at {frontier.size} records but "
                                      f"{self.store.name} at {next_seq}; reopen the ledger")
                signed = statement(next_seq, frontier.root().hex(), head, _now())
                body.update(signed, signature=self.signer.sign(signed),
                            key_id=self.signer.key_id)
                return seal_records([(new_id(), signed["time"], "checkpoint",
                                       canonical(body))])(next_seq, head)

            stored = await self._write(seal)
            self._observe(stored)
            self._last_checkpoint = time.monotonic()
            if self.checkpoint_file is not None:
                await asyncio.to_thread(_ship, self.checkpoint_file, body)
            last = stored[-1]
            return Receipt(last["seq"], last["id"], last["hash"])

    async def sign_pending(self) -> None:
        """Checkpoint now if records this ledger has seen are unsigned."""
        if self._since_checkpoint:
            await self.checkpoint()

    async def checkpoint_loop(self) -> None:
        """For long-running servers: sign unsigned records within `quiet_seconds` of the
        last append, and at least every `checkpoint_seconds` while appends keep coming, so
        the tail no signature covers stays small. Run as a task; cancel it before `close`.
        A failed checkpoint is logged by the next append's failure and tried again."""
        tick = min(self.quiet_seconds, self.checkpoint_seconds) / 4
        while True:
            await asyncio.sleep(tick)
            now = time.monotonic()
            due = (now - self._last_append >= self.quiet_seconds
                   or now - self._last_checkpoint >= self.checkpoint_seconds)
            if self._since_checkpoint and due:
                try:
                    await self.checkpoint()
                except LedgerError:
                    await asyncio.sleep(self.quiet_seconds)  # health() reports it

    async def close(self) -> None:
        """Flush what is queued, checkpoint what is unsigned, release the store."""
        while self._flushing is not None and not self._flushing.done():
            await self._flushing
        if self._syncing is not None:
            await self._syncing
        await self._maybe_checkpoint(force=True)
        if self._query is not None:
            self._query.close()
        self.store.close()

    # -- reading, verifying, proving --------------------------------------------------

    def _ensure_frontier(self) -> Frontier:
        """The frontier over every stored record: built once from the subtrees the index
        already stores (a few dozen lookups), then the hashes of the records after them
        from the store. The index is not brought up to date here: indexing is a reader's
        cost, and a writer's first checkpoint should not pay for it."""
        with self._tree_lock:
            if self._frontier is None:
                query = self.query
                frontier = StoredTree(query).frontier(query.indexed())
                self._catch_up(frontier)
                self._frontier = frontier
            return self._frontier

    def records_in_order(self) -> Iterator[dict[str, Any]]:
        for line in self.store.lines():
            yield json.loads(line)

    @property
    def query(self) -> Query:
        """Indexed reads (pages, filters, by id, reviews, the queue); opened on first use."""
        with self._tree_lock:
            if self._query is None:
                self._query = open_query(self.store)
            return self._query

    def get(self, record_id: str) -> dict[str, Any] | None:
        """One record by id, or None (through the index: one lookup and one read)."""
        return self.query.get(record_id)

    def shipped_checkpoints(self) -> list[dict[str, Any]]:
        if self.checkpoint_file is None or not self.checkpoint_file.exists():
            return []
        return [json.loads(line) for line in self.checkpoint_file.read_bytes().splitlines()
                if line.strip()]

    def verify(self, public_pem: bytes | None = None, *, strict: bool = False,
               allow_unsigned_tail: int = 0) -> VerifyReport:
        """Recompute chain, roots and signatures; `public_pem` defaults to our own key.

        More than `allow_unsigned_tail` records after the last signed checkpoint fail.
        """
        return verify_lines(self.store.lines(), public_pem or self.public_pem,
                            self.shipped_checkpoints(), strict=strict,
                            allow_unsigned_tail=allow_unsigned_tail)

    def prove(self, record_id: str) -> Proof:
        """An inclusion proof against the latest checkpoint, which covers every record
        before it.

        Read from the index in two looks after its catch-up check (the record with the
        latest checkpoint; a few dozen stored subtree hashes with a block or two of record
        hashes), which first indexes what any process appended since, so nothing per
        record is held here. A path that does not lead to
        the checkpoint's signed root (an index out of step with the store) is refused.
        """
        query = self.query
        record, checkpoint = query.with_checkpoint(record_id)
        if record is None:
            raise UnknownRecord(f"no record {record_id!r} in the ledger")
        seq = int(record["seq"])
        if checkpoint is None or int(checkpoint["size"]) <= seq:
            raise NotCovered(f"record {record_id} is not yet covered by a checkpoint; run "
                              "`supervisor audit checkpoint` (or wait for the next one)")
        size = int(checkpoint["size"])
        path = StoredTree(query).proof(seq, size)
        leaf = bytes.fromhex(record["hash"])
        if root_from_proof(leaf, seq, size, path).hex() != checkpoint["root"]:
            raise LedgerError(f"the index of {self.store.name} disagrees with its checkpoint "
                              f"at {size} records; delete the index (it is rebuilt) or run "
                              "`supervisor audit verify`")
        return Proof(record_id, seq, record["hash"], size, checkpoint["root"],
                     tuple(h.hex() for h in path), dict(checkpoint))


def _seq_and_hash(line: bytes) -> tuple[int, str]:
    """A stored line's seq and hash. In a canonical line they are the last `"seq":` and
    `"hash":"` after a comma (the record's own come after its body, and what follows them
    cannot hold a bare quote), found without parsing the body; else it is parsed."""
    at, seq_at = line.rfind(b',"hash":"'), line.rfind(b',"seq":')
    end = line.find(b",", seq_at + 7)
    digest = line[at + 9:at + 73]
    if at < 0 or seq_at < 0 or end < 0 or line[at + 73:at + 74] != b'"' or \
            not line[seq_at + 7:end].isdigit():
        record = json.loads(line)
        return int(record["seq"]), str(record["hash"])
    return int(line[seq_at + 7:end]), digest.decode()


def _resolve(future: asyncio.Future[Any], error: BaseException | None, value: Any) -> None:
    """Settle `future` from the event loop (called through call_soon_threadsafe)."""
    if future.done():
        return
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(value)


def _ship(path: Path, body: dict[str, Any]) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o640)
    try:
        os.write(fd, canonical(body) + b"\n")
        os.fsync(fd)
    finally:
        os.close(fd)


def _now() -> str:
    """UTC now as 2026-01-02T03:04:05.678901Z; the text before the fraction is kept for the
    second it names, since every record is stamped."""
    second, fraction = divmod(time.time_ns() // 1000, 1_000_000)
    known = _second[0]  # one read: another thread may replace it meanwhile
    if known[0] != second:
        known = _second[0] = (second, datetime.fromtimestamp(second, UTC).strftime(
            "%Y-%m-%dT%H:%M:%S"))
    return f"{known[1]}.{fraction:06d}Z"


_second: list[tuple[int, str]] = [(-1, "")]  # the last second _now formatted, and its text


__all__ = ["Ledger", "Proof", "Receipt", "Store", "key_id", "verify_proof"]
