"""The master key and the key store of per-subject data keys (for `store_text: encrypted`).

A subject's texts are sealed under its own random 256-bit data key; the key is kept only
wrapped (AES-256-GCM) by the master key (SUPERVISOR_MASTER_KEY), in a small SQLite file
beside the signing key. The ledger is append-only; this store is not: erasing a subject
destroys its wrapped key here, and every text sealed under it becomes unreadable while
the hash chain, which covers only ciphertext, stays intact (crypto-shredding).
A destroyed key is overwritten on disk (`secure_delete`, and the write-ahead log is
checkpointed and truncated); copies in backups of this file expire with the backups.

SQLite in WAL mode with a busy timeout lets several processes (server workers, the CLI)
share one store on one machine; a subject's key is created with INSERT OR IGNORE on a
unique column, so two processes sealing for the same user at once agree on one key.

A user's subject is found by an HMAC of its `user_ref` under a key derived from the
master key, never the `user_ref` itself (a short identifier hashed bare is found again by
guessing). Erasing clears that link too, so after an erasure nothing here ties the
person to the subject id their records carry.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import sqlite3
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from supervisor.errors import ConfigError, LedgerError
from supervisor.ledger.signing import publish_owner_only

SETTING = "SUPERVISOR_MASTER_KEY"
STORE_NAME = "text_keys.sqlite3"
# a key's `last_sealed` is an upper bound, written at most this often per subject
SLACK = timedelta(hours=1)
Clock = Callable[[], datetime]
FRESH = 256  # record subjects made per transaction

_SCHEMA = """
CREATE TABLE IF NOT EXISTS data_keys (
    key_id TEXT PRIMARY KEY,
    subject TEXT NOT NULL UNIQUE,
    ref TEXT UNIQUE,
    wrapped BLOB,
    master_id TEXT NOT NULL,
    created TEXT NOT NULL,
    last_sealed TEXT NOT NULL,
    erased TEXT,
    erasure TEXT,
    reason TEXT
);
CREATE INDEX IF NOT EXISTS data_keys_last_sealed ON data_keys (last_sealed)
    WHERE wrapped IS NOT NULL;
"""


@dataclass(frozen=True, slots=True)
class MasterKey:
    """The 32-byte key that wraps every data key, and where it came from."""

    secret: bytes
    path: Path

    @property
    def id(self) -> str:
        """A fingerprint that says which master key wrapped a data key (not the key)."""
        return hmac.new(self.secret, b"master-key-id", hashlib.sha256).hexdigest()[:16]

    def ref(self, user_ref: str) -> str:
        """The lookup tag of a user's subject: an HMAC, so unguessable without the key."""
        derived = hmac.new(self.secret, b"subject-ref", hashlib.sha256).digest()
        return hmac.new(derived, user_ref.encode(), hashlib.sha256).hexdigest()


def load_master_key(path: Path, *, configured: bool) -> MasterKey:
    """The master key at `path`; created owner-only there on first use unless the path
    was configured (a configured key that is missing is a mount gone wrong, and a new
    key would make every stored text unreadable)."""
    if not path.is_file():
        if configured:
            raise ConfigError(f"the master key {path} ({SETTING}) does not exist; restore "
                              "the file, or point the setting at the key the texts were "
                              "sealed with")
        publish_owner_only(path, base64.b64encode(os.urandom(32)) + b"\n")
    try:
        secret = base64.b64decode(path.read_bytes().strip(), validate=True)
    except (ValueError, OSError) as exc:
        raise ConfigError(f"{SETTING}: {path} is not readable base64 ({exc}); it must hold "
                          "32 random bytes, base64-encoded") from None
    if len(secret) != 32:
        raise ConfigError(f"{SETTING}: {path} holds {len(secret)} bytes; a master key is 32 "
                          "random bytes, base64-encoded")
    return MasterKey(secret, path)


@dataclass(frozen=True, slots=True)
class DataKey:
    """A subject's unwrapped data key, held only while sealing or opening."""

    subject: str
    key_id: str
    secret: bytes


@dataclass(frozen=True, slots=True)
class KeyRow:
    """What the store says of one data key, without the key."""

    key_id: str
    subject: str
    created: str
    last_sealed: str
    erased: str | None
    erasure: str | None
    reason: str | None


def _stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


class KeyStore:
    """Wrapped data keys by subject, in SQLite at `path`; `clock` is injectable for tests."""

    def __init__(self, path: Path, master: MasterKey, *, timeout: float = 10.0,
                 clock: Clock = lambda: datetime.now(UTC)) -> None:
        self.path = path
        self.master = master
        self.clock = clock
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        if not path.exists():
            os.close(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600))
        self._db = sqlite3.connect(path, timeout=timeout, isolation_level=None,
                                   check_same_thread=False)
        self._lock = threading.Lock()
        self._fresh: list[tuple[str, str, bytes, str, str]] = []  # see _fresh_subject
        with self._lock:
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA secure_delete=ON")  # a destroyed key's bytes are zeroed
            self._db.executescript(_SCHEMA)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    # -- sealing ----------------------------------------------------------------------

    def key_for(self, user_ref: str | None) -> DataKey:
        """The live data key of `user_ref`'s subject (made on first use), or of a fresh
        subject when there is no `user_ref` (the record is its own subject)."""
        ref = self.master.ref(user_ref) if user_ref else None
        now = self.clock()
        with self._lock:
            while True:
                if ref is None:
                    row = self._fresh_subject(now)
                else:
                    found = self._live_by_ref(ref)
                    if found is None:
                        self._create(ref, now)
                        found = self._live_by_ref(ref)  # ours, or a concurrent process's
                        assert found is not None, "a key just inserted is live"
                    row = found
                key_id, subject, wrapped, master_id, last_sealed = row
                if last_sealed >= _stamp(now) or self._db.execute(
                        "UPDATE data_keys SET last_sealed = ? WHERE key_id = ? AND wrapped "
                        "IS NOT NULL", (_stamp(now + SLACK), key_id)).rowcount:
                    break  # else erased since we read it: take another
        return DataKey(subject, key_id, self._unwrap(key_id, wrapped, master_id))

    def _live_by_ref(self, ref: str) -> tuple[str, str, bytes, str, str] | None:
        found = self._db.execute(
            "SELECT key_id, subject, wrapped, master_id, last_sealed FROM data_keys "
            "WHERE ref = ? AND wrapped IS NOT NULL", (ref,)).fetchone()
        return (found[0], found[1], found[2], found[3], found[4]) if found else None

    def _fresh_subject(self, now: datetime) -> tuple[str, str, bytes, str, str]:
        """A never-used subject for one record. They are made FRESH at a time in one
        transaction (one fsync instead of one per record), each counted as sealing
        within SLACK of its making (one handed out later is updated then). Those a
        process never hands out wrap no text; `retain` erases them with the rest."""
        if not self._fresh:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                self._fresh = [self._create(None, now) for _ in range(FRESH)]
                self._db.execute("COMMIT")
            except BaseException:
                self._fresh = []
                self._db.execute("ROLLBACK")
                raise
        return self._fresh.pop()

    def _create(self, ref: str | None, now: datetime) -> tuple[str, str, bytes, str, str]:
        key_id, subject = "dk_" + os.urandom(12).hex(), "subj_" + os.urandom(12).hex()
        sealed = _stamp(now + SLACK)
        nonce = os.urandom(12)
        wrapped = nonce + AESGCM(self.master.secret).encrypt(nonce, os.urandom(32),
                                                              key_id.encode())
        self._db.execute(
            "INSERT OR IGNORE INTO data_keys (key_id, subject, ref, wrapped, master_id, "
            "created, last_sealed) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (key_id, subject, ref, wrapped, self.master.id, _stamp(now), sealed))
        return key_id, subject, wrapped, self.master.id, sealed

    def _unwrap(self, key_id: str, wrapped: bytes, master_id: str) -> bytes:
        if master_id != self.master.id:
            raise ConfigError(f"data key {key_id} was wrapped by master key {master_id}, but "
                              f"{SETTING} ({self.master.path}) holds key {self.master.id}; "
                              "point the setting at the master key these texts were sealed "
                              "with")
        try:
            return AESGCM(self.master.secret).decrypt(wrapped[:12], wrapped[12:],
                                                      key_id.encode())
        except InvalidTag:
            raise LedgerError(f"data key {key_id} in {self.path} does not unwrap with the "
                              f"{SETTING} key; the key store was altered") from None

    # -- opening ----------------------------------------------------------------------

    def open_key(self, subject: str, key_id: str) -> DataKey | KeyRow | None:
        """The data key to open a subject's texts; its row when it was erased; None when
        the store never held it."""
        with self._lock:
            found = self._db.execute(
                "SELECT wrapped, master_id FROM data_keys WHERE key_id = ? AND subject = ?",
                (key_id, subject)).fetchone()
        if found is None:
            return None
        if found[0] is None:
            return self.row(key_id)
        return DataKey(subject, key_id, self._unwrap(key_id, found[0], found[1]))

    # -- erasing ----------------------------------------------------------------------

    def row(self, key_id: str) -> KeyRow | None:
        rows = self._rows("key_id = ?", (key_id,))
        return rows[0] if rows else None

    def live(self, target: str) -> list[KeyRow]:
        """Live keys of a subject id, else of a user_ref."""
        rows = self._rows("subject = ? AND wrapped IS NOT NULL", (target,))
        return rows or self._rows("ref = ? AND wrapped IS NOT NULL",
                                  (self.master.ref(target),))

    def erased(self, subject: str) -> list[KeyRow]:
        return self._rows("subject = ? AND wrapped IS NULL", (subject,))

    def expired(self, cutoff: datetime) -> list[KeyRow]:
        """Live keys whose newest text was sealed before `cutoff`."""
        return self._rows("wrapped IS NOT NULL AND last_sealed < ?", (_stamp(cutoff),))

    def destroy(self, key_ids: list[str], *, erasure: str, when: str, reason: str) -> int:
        """Drop the wrapped keys and the user link; returns how many were live."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                count = 0
                for key_id in key_ids:
                    count += self._db.execute(
                        "UPDATE data_keys SET wrapped = NULL, ref = NULL, erased = ?, "
                        "erasure = ?, reason = ? WHERE key_id = ? AND wrapped IS NOT NULL",
                        (when, erasure, reason, key_id)).rowcount
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            # the old pages live on in the write-ahead log until it is checkpointed
            self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        return count

    def now(self) -> str:
        return _stamp(self.clock())

    def _rows(self, where: str, args: tuple[str, ...]) -> list[KeyRow]:
        with self._lock:
            found = self._db.execute(
                "SELECT key_id, subject, created, last_sealed, erased, erasure, reason "
                f"FROM data_keys WHERE {where} ORDER BY created", args).fetchall()
        return [KeyRow(*r) for r in found]
