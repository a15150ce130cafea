"""The embedded store: JSONL segments under one directory, group-committed with fsync.

Each line is one sealed record (canonical JSON). A batch is written under an exclusive
`flock` on the directory's lock file, after re-reading whatever another process appended
since our last look, so several processes on one machine share one chain. Nothing is
acknowledged before `fsync` returns. At open, a torn last line (a crash mid-write) is
moved aside intact to `torn-<time>.jsonl` and cut off; the Ledger then appends a
`recovery` record saying so.
"""

from __future__ import annotations

import fcntl
import json
import os
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from supervisor.errors import LedgerError
from supervisor.ledger.canonical import GENESIS, seal_line

SEGMENT_RECORDS = 100_000
Seal = Callable[[int, str], list[dict[str, Any]]]


class JsonlStore:
    """Append-only JSONL segments; `append` is durable when it returns."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        try:
            directory.mkdir(parents=True, exist_ok=True)
            self._lock = (directory / ".lock").open("a")
        except OSError as exc:
            raise LedgerError(f"cannot open the ledger directory {directory}: {exc}; set "
                              "SUPERVISOR_LEDGER to a writable directory") from None
        self.next_seq = 0
        self.head_hash = GENESIS
        self._segment: Path | None = None  # the segment `_offset` refers to
        self._offset = 0  # bytes of that segment already accounted for
        self.torn: list[str] = []
        with self._locked():
            self.torn = self._repair_tail()
            self._load_head()

    @property
    def name(self) -> str:
        return f"jsonl:{self.directory}"

    # -- reading ----------------------------------------------------------------------

    def segments(self) -> list[Path]:
        return sorted(self.directory.glob("ledger-*.jsonl"))

    def lines(self) -> Iterator[bytes]:
        """Every stored line in order, without its newline."""
        for segment in self.segments():
            with segment.open("rb") as handle:
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
        with self._locked():
            foreign = self._catch_up()
            records = seal(self.next_seq, self.head_hash)
            if not records:
                return foreign
            data = b"".join(r["line"] + b"\n" for r in records)
            segment = self._segment_for(self.next_seq)
            fd = os.open(segment, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o640)
            try:
                os.write(fd, data)
                os.fsync(fd)
            finally:
                os.close(fd)
            self._segment, self._offset = segment, segment.stat().st_size
            self.next_seq += len(records)
            self.head_hash = records[-1]["hash"]
            return foreign + records

    def _segment_for(self, seq: int) -> Path:
        return self.directory / f"ledger-{seq // SEGMENT_RECORDS + 1:08d}.jsonl"

    def _catch_up(self) -> list[dict[str, Any]]:
        """Read records appended by others since our last look; update the head."""
        found: list[dict[str, Any]] = []
        segments = self.segments()
        if not segments:
            return found
        for segment in segments[self.next_seq // SEGMENT_RECORDS:]:
            with segment.open("rb") as handle:
                handle.seek(self._offset if segment == self._segment else 0)
                for line in handle:
                    found.append(json.loads(line))
                self._segment, self._offset = segment, handle.tell()
        if found:
            self.next_seq = found[-1]["seq"] + 1
            self.head_hash = found[-1]["hash"]
        return found

    def _load_head(self) -> None:
        """Find the head from the last line alone, so opening a big ledger is cheap."""
        segments = self.segments()
        if not segments:
            return
        last = segments[-1]
        with last.open("rb") as handle:
            size = handle.seek(0, os.SEEK_END)
            window = 4096
            while True:
                handle.seek(max(0, size - window))
                chunk = handle.read()
                lines = chunk.rstrip(b"\n").split(b"\n")
                if len(lines) > 1 or window >= size:
                    break
                window *= 4
        if lines and lines[-1]:
            record = json.loads(lines[-1])
            self.next_seq, self.head_hash = record["seq"] + 1, record["hash"]
        self._segment, self._offset = last, size

    def _repair_tail(self) -> list[str]:
        segments = self.segments()
        if not segments:
            return []
        last = segments[-1]
        data = last.read_bytes()
        cut = len(data)
        if data and not data.endswith(b"\n"):
            cut = data.rfind(b"\n") + 1
        else:
            previous = data.rfind(b"\n", 0, len(data) - 1) + 1
            try:
                json.loads(data[previous:])
            except ValueError:
                cut = previous
        if cut == len(data):
            return []
        aside = self.directory / f"torn-{time.strftime('%Y%m%dT%H%M%S')}-{os.getpid()}.jsonl"
        aside.write_bytes(data[cut:])
        with last.open("r+b") as handle:
            handle.truncate(cut)
            handle.flush()
            os.fsync(handle.fileno())
        return [f"{len(data) - cut} bytes of a torn last line of {last.name} moved to "
                f"{aside.name}"]

    @contextmanager
    def _locked(self) -> Iterator[None]:
        fcntl.flock(self._lock.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(self._lock.fileno(), fcntl.LOCK_UN)

    def close(self) -> None:
        self._lock.close()


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
