"""A tripwire for incremental verification of a JSONL ledger: did the files change before
the saved point?

An incremental `verify` trusts what an earlier run verified, so a byte changed in place
before the saved point, with no rewrite after it, would pass. Re-hashing the prefix would
cost a full read; instead the state keeps, for each finished segment, its size, inode,
mtime and ctime (a write or a `touch` changes ctime, and only a clock change or raw disk
access can set it back), and for the segment holding the saved point, the sha256 of its
bytes up to that point (one segment, at most 100,000 records). Any difference sends the
run back to genesis. PostgreSQL ledgers rely on their append-only trigger instead.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from supervisor.ledger.jsonl import SEGMENT_RECORDS

Snapshot = list[dict[str, Any]]


def snapshot(target: str, seq: int) -> Snapshot:
    """What to compare later: stat of segments before `seq`'s, a hash of its prefix.

    Empty when the target is not a JSONL folder laid out one segment per 100,000 seqs.
    """
    folder = Path(target)
    if "://" in target or not folder.is_dir():
        return []
    segments = sorted(folder.glob("ledger-*.jsonl"))
    index = seq // SEGMENT_RECORDS
    if index >= len(segments):
        return []
    holding = segments[index]
    data = holding.read_bytes()
    end = _end_of_line(data, seq - index * SEGMENT_RECORDS)
    if end is None or json.loads(data[:data.find(b"\n")])["seq"] != index * SEGMENT_RECORDS:
        return []
    files: Snapshot = [_stat(path) for path in segments[:index]]
    files.append({"name": holding.name, "prefix": end,
                  "sha256": hashlib.sha256(data[:end]).hexdigest()})
    return files


def changed(target: str, files: Snapshot) -> str:
    """Why the files differ from `files` ("" when they do not, or nothing was kept)."""
    folder = Path(target)
    for kept in files:
        path = folder / str(kept["name"])
        if not path.is_file():
            return f"{kept['name']} is gone"
        if "sha256" in kept:
            with path.open("rb") as handle:
                prefix = handle.read(int(kept["prefix"]))
            if hashlib.sha256(prefix).hexdigest() != kept["sha256"]:
                return f"{kept['name']} changed before the saved point"
        elif _stat(path) != kept:
            return f"{kept['name']} was written to or replaced since it was verified"
    return ""


def _stat(path: Path) -> dict[str, Any]:
    found = path.stat()
    return {"name": path.name, "size": found.st_size, "ino": found.st_ino,
            "mtime_ns": found.st_mtime_ns, "ctime_ns": found.st_ctime_ns}


def _end_of_line(data: bytes, number: int) -> int | None:
    """The offset just past line `number` (0-based) of `data`, or None."""
    at = -1
    for _ in range(number + 1):
        at = data.find(b"\n", at + 1)
        if at < 0:
            return None
    return at + 1
