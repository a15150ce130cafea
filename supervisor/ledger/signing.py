"""The ledger's Ed25519 key: created on first use, owner-only, public half exportable.

A checkpoint is a statement of (size, Merkle root, head hash, time) signed with this key.
An examiner needs only the public key to check every checkpoint and inclusion proof.
"""

from __future__ import annotations

import base64
import hashlib
import os
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from supervisor.errors import LedgerError
from supervisor.ledger.canonical import canonical

PRIVATE_NAME = "ledger_ed25519.pem"
PUBLIC_NAME = "ledger_ed25519.pub.pem"
STATEMENT = "constitutional-supervisor/checkpoint/v1"


class Signer:
    """Signs checkpoint statements; loads or creates the key under `key_dir`."""

    def __init__(self, key_dir: Path) -> None:
        self.key_dir = key_dir
        private = key_dir / PRIVATE_NAME
        if not private.exists():
            _create(private)
        try:
            loaded = serialization.load_pem_private_key(private.read_bytes(), password=None)
        except (ValueError, TypeError) as exc:
            raise LedgerError(f"signing key {private} is unreadable ({exc}); restore it "
                              "from backup, or move it aside to start a new key") from None
        if not isinstance(loaded, Ed25519PrivateKey):
            raise LedgerError(f"signing key {private} is not an Ed25519 key")
        self.key = loaded
        (key_dir / PUBLIC_NAME).write_bytes(self.public_pem())

    def public_pem(self) -> bytes:
        return self.key.public_key().public_bytes(serialization.Encoding.PEM,
                                                  serialization.PublicFormat.SubjectPublicKeyInfo)

    @property
    def key_id(self) -> str:
        return key_id(self.public_pem())

    def sign(self, statement: dict[str, Any]) -> str:
        return base64.b64encode(self.key.sign(canonical(statement))).decode()


def _create(private: Path) -> None:
    """A new signing key, published owner-only (a concurrent opener's key may win)."""
    pem = Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption())
    publish_owner_only(private, pem)


def publish_owner_only(path: Path, data: bytes) -> bool:
    """Write `data` to a temporary file (mode 600, in a 700 folder), then publish it at
    `path` with an atomic link; False if another process published first.

    Two processes starting at once (a ledger's first open, a server's first keys) both
    get here; the link lets exactly one complete file win, and the other reads that one.
    """
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    try:
        os.link(temporary, path)
        return True
    except FileExistsError:
        return False  # another process published first; the caller uses that file
    finally:
        temporary.unlink()


def key_id(public_pem: bytes) -> str:
    """A short fingerprint of a public key: sha256 of its PEM, first 16 hex digits."""
    return hashlib.sha256(public_pem).hexdigest()[:16]


def statement(size: int, root: str, head: str, time: str) -> dict[str, Any]:
    """What a checkpoint signs."""
    return {"statement": STATEMENT, "size": size, "root": root, "head": head, "time": time}


def verify_signature(public_pem: bytes, signed: dict[str, Any], signature: str) -> bool:
    """Whether `signature` is the key's signature over canonical(`signed`)."""
    key = serialization.load_pem_public_key(public_pem)
    if not isinstance(key, Ed25519PublicKey):
        return False
    try:
        key.verify(base64.b64decode(signature), canonical(signed))
    except (InvalidSignature, ValueError):
        return False
    return True
