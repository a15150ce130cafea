"""The embedded store: JSONL segments under one directory, group-committed with fsync.

Each line is one sealed record (canonical JSON). A batch is written under an exclusive
`flock` on the directory's lock file, after re-reading whatever another process appended
since our last look, so several processes on one machine share one chain. The lock is
waited for at most `lock_timeout` seconds: a writer stuck elsewhere makes an append fail
loudly instead of hanging every process behind it. Nothing is acknowledged before `fsync`
returns. At open, a torn last line (a crash mid-write) is moved aside intact to
`torn-<time>.jsonl` and cut off; the Ledger then appends a `recovery` record saying so.
Opened `read_only` (for `audit verify`), the store takes no lock, repairs nothing and
writes nothing: a torn line is left for the verifier to report.
"""

from __future__ import annotations

import fcntl
import json
import os
import time
from collections.abc import Callable, Generator, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from supervisor.errors import LedgerError
from supervisor.ledger.canonical import GENESIS, seal_line

SEGMENT_RECORDS = 100_000
LOCK_TIMEOUT_S = 10.0
POSITIONS = 256  # where recent seqs start, remembered so a reader can seek straight there
Seal = Callable[[int, str], list[dict[str, Any]]]


class JsonlStore:
    """Append-only JSONL segments; `append` is durable when it returns."""

    def __init__(self, directory: Path, *, lock_timeout: float = LOCK_TIMEOUT_S,
                 read_only: bool = False, segment_records: int = SEGMENT_RECORDS) -> None:
        self.directory = directory
        self.segment_records = segment_records  # segment n holds seqs from n * this
        self.lock_timeout = lock_timeout
        self.read_only = read_only
        self.next_seq = 0
        self.head_hash = GENESIS
        self._segment: Path | None = None  # the segment `_offset` refers to
        self._offset = 0  # bytes of that segment already accounted for
        self._positions: dict[int, tuple[Path, int]] = {}  # seq -> where its line starts
        self.torn: list[str] = []
        if read_only:
            if not directory.is_dir():
                raise LedgerError(f"no ledger at {directory}; set SUPERVISOR_LEDGER to the "
                                  "ledger's directory")
            self._lock = None
            return
        try:
            directory.mkdir(parents=True, exist_ok=True)
            self._lock = (directory / ".lock").open("a")
        except OSError as exc:
            raise LedgerError(f"cannot open the ledger directory {directory}: {exc}; set "
                              "SUPERVISOR_LEDGER to a writable directory") from None
        with self._locked():
            self.torn = self._repair_tail()
            self._load_head()

    @property
    def name(self) -> str:
        return f"jsonl:{self.directory}"

    # -- reading ----------------------------------------------------------------------

    def segments(self) -> list[Path]:
        return sorted(self.directory.glob("ledger-*.jsonl"))

    def lines(self, start: int = 0) -> Iterator[bytes]:
        """Stored lines from seq `start` on, in order, without their newlines.

        A seq this store wrote or caught up to recently is found by seeking; any other
        start skips lines within its segment (see `segment_records`), never
        the segments before it. A ledger laid out otherwise is read from its start.
        """
        found = self._from(start // self.segment_records, start, self._positions.get(start))
        first = next(found, None)
        if (first is None and start < self.next_seq) or (
                first is not None and json.loads(first)["seq"] != start):
            found.close()  # laid out otherwise: read from the start
            yield from (line for line in self._from(0, 0, None)
                        if json.loads(line)["seq"] >= start)
            return
        if first is not None:
            yield first
            yield from found

    def _from(self, first: int, start: int, known: tuple[Path, int] | None
              ) -> Generator[bytes, None, None]:
        for number, segment in enumerate(self.segments()[first:], first):
            with segment.open("rb") as handle:
                if number == first and known is not None and known[0] == segment:
                    handle.seek(known[1])
                elif number == first:
                    for _ in range(start - first * self.segment_records):
                        if not handle.readline():
                            break
                for line in handle:
                    yield line.rstrip(b"\n")

    def read(self) -> Iterator[dict[str, Any]]:
        for line in self.lines():
            yield json.loads(line)

    # -- writing ----------------------------------------------------------------------

    def append(self, seal: Seal) -> list[dict[str, Any]]:
        """Seal a batch against the current head (under the lock) and make it durable.

        Returns records other processes appended since our last look, then ours.
        """
        records, sync = self.write(seal)
        sync()
        return records

    def write(self, seal: Seal) -> tuple[list[dict[str, Any]], Callable[[], None]]:
        """`append` in two steps: seal and write under the lock, then `sync()` (fsync),
        after which the batch is durable, outside it, so the next batch can be written
        meanwhile. A batch that starts a segment is made durable here, with the end of the
        segment before it, so no chain continues in a segment whose predecessor's tail
        could be lost."""
        with self._locked():
            foreign = self._catch_up()
            records = seal(self.next_seq, self.head_hash)
            if not records:
                return foreign, _synced
            segment, offset = self._segment_for(self.next_seq), self._offset
            if segment != self._segment:  # a new ledger, or the first batch of a segment
                offset = _size(segment)
            chunks: dict[Path, list[bytes]] = {}
            starts: list[tuple[int, Path, int]] = []
            ends = (self.next_seq // self.segment_records + 1) * self.segment_records
            for record in records:  # a batch that reaches a segment's end spills over
                if record["seq"] >= ends:  # a path made per segment, not per record
                    segment = self._segment_for(record["seq"])
                    ends += self.segment_records
                    offset = _size(segment)
                starts.append((record["seq"], segment, offset))
                chunks.setdefault(segment, []).append(record["line"] + b"\n")
                offset += len(record["line"]) + 1
            sync = _write_chunks(chunks, self._segment)
            self._segment, self._offset = segment, offset
            for seq, path, start in starts:
                self._remember(seq, path, start)
            self.next_seq += len(records)
            self.head_hash = records[-1]["hash"]
            self._remember(self.next_seq, *self._end())
            return foreign + records, sync

    def _segment_for(self, seq: int) -> Path:
        return self.directory / f"ledger-{seq // self.segment_records + 1:08d}.jsonl"

    def _catch_up(self) -> list[dict[str, Any]]:
        """Read records appended by others since our last look; update the head.

        Two stats when nobody else appended (our segment has not grown, the next one does
        not exist): the common case of one writer, under the lock at every batch."""
        found: list[dict[str, Any]] = []
        if self._segment is not None and _size(self._segment) == self._offset:
            following = self._segment_for(self.next_seq)  # where another's record would go
            if following == self._segment or not following.exists():
                return found
        segments = self.segments()
        if not segments:
            return found
        for segment in segments[self.next_seq // self.segment_records:]:
            with segment.open("rb") as handle:
                offset = handle.seek(self._offset if segment == self._segment else 0)
                for line in handle:
                    record = json.loads(line)
                    self._remember(record["seq"], segment, offset)
                    offset += len(line)
                    found.append(record)
                self._segment, self._offset = segment, handle.tell()
        if found:
            self.next_seq = found[-1]["seq"] + 1
            self.head_hash = found[-1]["hash"]
            self._remember(self.next_seq, *self._end())
        return found

    def _end(self) -> tuple[Path, int]:
        """Where the next record's line will start."""
        segment = self._segment_for(self.next_seq)
        if segment == self._segment:
            return segment, self._offset
        return segment, 0

    def _remember(self, seq: int, segment: Path, offset: int) -> None:
        self._positions[seq] = (segment, offset)
        while len(self._positions) > POSITIONS:
            self._positions.pop(next(iter(self._positions)))

    def _load_head(self) -> None:
        """Find the head from the last line alone, so opening a big ledger is cheap."""
        segments = self.segments()
        if not segments:
            return
        last = segments[-1]
        start, line = _last_line(last)
        if line.strip():
            record = json.loads(line)
            self.next_seq, self.head_hash = record["seq"] + 1, record["hash"]
        self._segment, self._offset = last, start + len(line)
        self._remember(self.next_seq, *self._end())

    def _repair_tail(self) -> list[str]:
        """Cut a last line that is unterminated or not JSON; read from the end only."""
        segments = self.segments()
        if not segments:
            return []
        last = segments[-1]
        start, line = _last_line(last)
        if not line:
            return []
        if line.endswith(b"\n"):
            try:
                json.loads(line)
                return []
            except ValueError:
                pass
        aside = self.directory / f"torn-{time.strftime('%Y%m%dT%H%M%S')}-{os.getpid()}.jsonl"
        aside.write_bytes(line)
        with last.open("r+b") as handle:
            handle.truncate(start)
            handle.flush()
            os.fsync(handle.fileno())
        return [f"{len(line)} bytes of a torn last line of {last.name} moved to "
                f"{aside.name}"]

    @contextmanager
    def _locked(self) -> Iterator[None]:
        """Hold the directory's lock; wait for it at most `lock_timeout` seconds."""
        if self._lock is None:
            raise LedgerError(f"the ledger at {self.directory} was opened read-only")
        fd = self._lock.fileno()
        deadline, pause = time.monotonic() + self.lock_timeout, 0.001
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise LedgerError(
                        f"the ledger at {self.directory} stayed locked by another process "
                        f"for {self.lock_timeout:g} s; find the stuck writer (lsof "
                        f"{self.directory / '.lock'}) or raise SUPERVISOR_LEDGER_TIMEOUT"
                    ) from None
                time.sleep(pause)
                pause = min(pause * 2, 0.05)
        try:
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)

    def close(self) -> None:
        if self._lock is not None:
            self._lock.close()


def _last_line(path: Path) -> tuple[int, bytes]:
    """Where the file's last line starts, and its bytes (its newline too, if written): read
    from the end in growing windows, so a segment of 100,000 records is not read whole."""
    with path.open("rb") as handle:
        size = handle.seek(0, os.SEEK_END)
        window = 4096
        while True:
            start = max(0, size - window)
            handle.seek(start)
            chunk = handle.read()
            cut = chunk.rfind(b"\n", 0, len(chunk) - 1)
            if cut >= 0 or start == 0:
                return start + cut + 1, chunk[cut + 1:]
            window *= 4


def _write_chunks(chunks: dict[Path, list[bytes]], last: Path | None) -> Callable[[], None]:
    """Append each segment's chunk; returns the `sync` that makes them durable. Written
    into one segment, the sync is left to the caller; into a new one, `last` (the
    segment before) and all are synced here."""
    fds: list[int] = []
    try:
        for path, chunk in chunks.items():
            fds.append(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o640))
            os.write(fds[-1], b"".join(chunk))
        if last is not None and last not in chunks:
            fds.insert(0, os.open(last, os.O_WRONLY | os.O_APPEND))
        if len(fds) == 1:
            return _syncer(fds.pop())
        for fd in fds:
            os.fsync(fd)
        return _synced
    finally:
        for fd in fds:
            os.close(fd)


def _synced() -> None:
    """The `sync` of a batch already durable (or of nothing)."""


def _syncer(fd: int) -> Callable[[], None]:
    """fsync the descriptor a batch was written through, then close it."""
    def sync() -> None:
        try:
            os.fsync(fd)
        finally:
            os.close(fd)

    return sync


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except FileNotFoundError:
        return 0


def seal_records(pending: Sequence[tuple[str, str, str, bytes]]) -> Seal:
    """A `Seal` that chains (id, ts, kind, canonical body bytes) onto the given head.

    Sealed records carry seq, id, kind, hash and `line` (the bytes to store).
    """
    def seal(next_seq: int, head: str) -> list[dict[str, Any]]:
        sealed = []
        for offset, (record_id, ts, kind, body) in enumerate(pending):
            seq = next_seq + offset
            digest, line = seal_line(seq, record_id, ts, kind, body, head)
            sealed.append({"seq": seq, "id": record_id, "kind": kind, "hash": digest,
                           "line": line})
            head = digest
        return sealed

    return seal
