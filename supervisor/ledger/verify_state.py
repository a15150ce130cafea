"""Where a verifier remembers how far it got, so the next `audit verify` continues there.

The state is the last signed checkpoint record that verified (its seq, its hash and the
size it signs), the Merkle frontier just after it, and the fingerprint of the public key it
was verified with. It is kept in the verifier's own place (`~/.cache/constitutional-
supervisor/verify/<ledger id>.json`, the folder SUPERVISOR_VERIFY_STATE_DIR names instead,
or `--state FILE`), never in the ledger's folder:
verify is read-only toward the ledger. It holds only what the verifier computed itself,
and is used only with the same public key; it is a cache, not evidence, so a state that
is unreadable or made with another key is ignored and the ledger is verified from genesis.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from supervisor.errors import LedgerError
from supervisor.ledger.merkle import Frontier

VERSION = 1


@dataclass(frozen=True, slots=True)
class VerifiedPoint:
    """The last signed checkpoint record a verification accepted, and the tree after it."""

    seq: int  # the checkpoint record's seq
    head: str  # its hash
    size: int  # the records its signature covers
    frontier: Frontier  # the Merkle frontier of records 0..seq (seq + 1 leaves)
    key_id: str  # the public key it was verified with
    verified_at: str = ""
    files: tuple[dict[str, Any], ...] = ()  # a JSONL ledger's files then (verify_files)

    def to_dict(self) -> dict[str, Any]:
        return {"version": VERSION, "seq": self.seq, "head": self.head, "size": self.size,
                "frontier": {"size": self.frontier.size,
                             "hashes": [h.hex() for h in self.frontier.hashes]},
                "key_id": self.key_id, "verified_at": self.verified_at,
                "files": list(self.files)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> VerifiedPoint:
        """Raises ValueError (or KeyError, TypeError) on anything but a state we wrote."""
        if data.get("version") != VERSION:
            raise ValueError("unknown state version")
        frontier = Frontier(int(data["frontier"]["size"]),
                            [bytes.fromhex(h) for h in data["frontier"]["hashes"]])
        point = cls(int(data["seq"]), str(data["head"]), int(data["size"]), frontier,
                    str(data["key_id"]), str(data.get("verified_at", "")),
                    tuple(dict(f) for f in data.get("files", [])))
        if frontier.size != point.seq + 1 or len(bytes.fromhex(point.head)) != 32:
            raise ValueError("the frontier does not end at the checkpoint record")
        return point


def ledger_id(target: str) -> str:
    """A stable name for the ledger at `target` (its resolved folder, or its URL)."""
    where = target if "://" in target else str(Path(target).resolve())
    return hashlib.sha256(where.encode()).hexdigest()[:16]


STATE_DIR = "SUPERVISOR_VERIFY_STATE_DIR"  # where state files go instead of the cache


def default_state_file(target: str) -> Path:
    """The verifier's own state file for this ledger: in the folder SUPERVISOR_VERIFY_STATE_DIR
    names (tests, a verifier with its own disk), else under the user's cache folder."""
    folder = os.environ.get(STATE_DIR)
    base = Path(folder) if folder else \
        Path.home() / ".cache" / "constitutional-supervisor" / "verify"
    return base / f"{ledger_id(target)}.json"


def load_point(path: Path, key_id: str) -> tuple[VerifiedPoint | None, str]:
    """The saved point and "", or None and why it is not used ("" when there is none)."""
    if not path.is_file():
        return None, ""
    try:
        point = VerifiedPoint.from_dict(json.loads(path.read_bytes()))
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None, f"the verify state {path} is unreadable; verified from genesis"
    if point.key_id != key_id:
        return None, (f"the verify state {path} was made with key {point.key_id}, not "
                      f"{key_id}; verified from genesis")
    return point, ""


def save_point(path: Path, point: VerifiedPoint) -> None:
    """Write the state atomically (a temporary file renamed over it)."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        temporary.write_text(json.dumps(point.to_dict()), encoding="utf-8")
        temporary.replace(path)
    except OSError as exc:
        raise LedgerError(f"cannot write the verify state {path} ({exc}); pass --state "
                          "with a writable file, or --full to verify without it") from None
