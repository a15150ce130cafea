"""Revoked console sessions, shared by every process that accepts the console's cookies.

A session cookie is signed, so without a server-side list a copied cookie would work
until it expires however often its reviewer logs out. Logging out appends the session's
reference to `console-revoked`, a small owner-only file beside the console secret, and
every request's session is looked up there.

Why a file beside the secret, not the ledger or a table: a process can accept a cookie
only if it holds the secret that signed it, so the folder holding the secret is, by
construction, shared by every process that could honour a revoked cookie: the workers of
one `supervisor serve` (JSONL or PostgreSQL alike, since the folder is the signing-key
folder either way), and machines sharing `SUPERVISOR_KEY_DIR` (which they must, for the
ledger's signing key and for cookies to work across them at all). The ledger records the
logout too (an `access` record), but it is no place to look a session up on every
request: its stores can only be read whole. Here a request costs one `stat`, and the
file is re-read only when it changed.

Entries carry the cookie's own expiry; once every cookie they could refuse has expired
they are dropped when the file is rewritten (under a lock, by a rename, so no reader
sees a half-written file and no concurrent logout is lost).
"""

from __future__ import annotations

import fcntl
import os
import time
from collections.abc import Callable
from pathlib import Path

REVOKED_FILE = "console-revoked"
COMPACT_AFTER = 1024  # expired entries tolerated before the file is rewritten


class Revocations:
    """Session references that were logged out, read from (and appended to) `path`."""

    def __init__(self, path: Path, *, clock: Callable[[], float] = time.time) -> None:
        self.path = path
        self._clock = clock
        self._seen: tuple[int, int, int] | None = None  # (inode, size, mtime) last read
        self._until: dict[str, float] = {}

    def revoke(self, session: str, *, until: float) -> None:
        """Refuse `session` from now on (until `until`, when its cookie expires anyway)."""
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        with self._locked():
            fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
            try:
                os.write(fd, f"{session} {int(until)}\n".encode())
                os.fsync(fd)
            finally:
                os.close(fd)
            entries = self._read()
            now = self._clock()
            if sum(expiry <= now for expiry in entries.values()) > COMPACT_AFTER:
                self._rewrite({s: e for s, e in entries.items() if e > now})
        self._until[session] = until  # this process knows at once, without a re-read

    def __contains__(self, session: object) -> bool:
        self._refresh()
        return isinstance(session, str) and session in self._until

    def _refresh(self) -> None:
        try:
            info = self.path.stat()
        except FileNotFoundError:
            return
        seen = (info.st_ino, info.st_size, info.st_mtime_ns)
        if seen != self._seen:
            self._until = self._read()
            self._seen = seen

    def _read(self) -> dict[str, float]:
        try:
            text = self.path.read_text(encoding="ascii", errors="replace")
        except FileNotFoundError:
            return {}
        entries: dict[str, float] = {}
        for line in text.splitlines():
            session, _, until = line.partition(" ")
            if session and until.isdigit():
                entries[session] = max(entries.get(session, 0.0), float(until))
        return entries

    def _rewrite(self, entries: dict[str, float]) -> None:
        temporary = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="ascii") as handle:
            handle.writelines(f"{s} {int(e)}\n" for s, e in entries.items())
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, self.path)

    def _locked(self) -> _Lock:
        return _Lock(self.path.with_name(f".{self.path.name}.lock"))


class _Lock:
    """An exclusive advisory lock on a file, held for a `with` block (between processes)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd = -1

    def __enter__(self) -> None:
        self._fd = os.open(self.path, os.O_WRONLY | os.O_CREAT, 0o600)
        fcntl.flock(self._fd, fcntl.LOCK_EX)

    def __exit__(self, *exc: object) -> None:
        fcntl.flock(self._fd, fcntl.LOCK_UN)
        os.close(self._fd)
