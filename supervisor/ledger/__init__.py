"""The tamper-evident audit ledger: hash chain, signed Merkle checkpoints, proofs.

`open_ledger()` picks the store from SUPERVISOR_LEDGER: a directory (JSONL segments, the
embedded default `audit_logs/`) or a `postgresql://` URL. A torn tail found at open is
repaired and recorded with a `recovery` record before anything else is appended.

`verify_ledger()` is the examiner's path: it opens the store read-only and writes nothing
(no repair, no recovery record, no key created), and trusts only a public key.
"""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

from cryptography.hazmat.primitives import serialization

from supervisor.errors import LedgerError
from supervisor.ledger.core import Ledger, Proof, Receipt, Store, verify_proof
from supervisor.ledger.signing import PRIVATE_NAME, PUBLIC_NAME, Signer, key_id
from supervisor.ledger.verify import (
    FullVerifyNeeded,
    Progress,
    VerifyReport,
    verify_lines,
    verify_since,
)
from supervisor.ledger.verify_files import changed, snapshot
from supervisor.ledger.verify_parallel import verify_parallel
from supervisor.ledger.verify_state import load_point, save_point
from supervisor.settings import Settings, current

CHECKPOINT_FILE = "checkpoints.jsonl"


def open_store(target: str, settings: Settings, *, read_only: bool = False) -> Store:
    """The store at `target`: a JSONL directory or a PostgreSQL URL."""
    if target.startswith(("postgresql://", "postgres://")):
        from supervisor.ledger.postgres import PostgresStore

        return PostgresStore(target, lock_timeout=settings.ledger_timeout_s,
                             read_only=read_only)
    from supervisor.ledger.jsonl import JsonlStore

    return JsonlStore(Path(target), lock_timeout=settings.ledger_timeout_s,
                      read_only=read_only)


def key_dir_of(target: str, settings: Settings) -> Path:
    """Where the signing key of the ledger at `target` lives."""
    if settings.key_dir or "://" in target:
        return settings.signing_key_dir
    return Path(target) / "keys"


def checkpoint_file_of(target: str, settings: Settings) -> Path:
    """Where the checkpoints shipped off the ledger are written by default."""
    if "://" in target:
        return settings.signing_key_dir / CHECKPOINT_FILE
    return Path(target) / CHECKPOINT_FILE


async def open_ledger(target: str | None = None, *, settings: Settings | None = None
                      ) -> Ledger:
    """Open (creating if needed) the ledger named by `target` or the settings."""
    settings = settings or current()
    target = target or settings.ledger
    store = open_store(target, settings)
    ledger = Ledger(store, Signer(key_dir_of(target, settings)),
                    checkpoint_every=settings.checkpoint_every,
                    checkpoint_seconds=settings.checkpoint_seconds,
                    checkpoint_file=checkpoint_file_of(target, settings))
    for problem in store.torn:
        await ledger.append("recovery", {"problem": problem, "store": store.name})
    return ledger


def trusted_key(target: str, settings: Settings, given: Path | None = None
                ) -> tuple[bytes, Path]:
    """The public key to verify with, and where it came from: `given`, else the ledger's
    published public key, else the public half of its private key. Never creates one."""
    folder = key_dir_of(target, settings)
    for path in (given, folder / PUBLIC_NAME):
        if path is not None and path.is_file():
            return path.read_bytes(), path
    private = folder / PRIVATE_NAME
    if private.is_file():
        key = serialization.load_pem_private_key(private.read_bytes(), password=None)
        return key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        ), private
    raise LedgerError(f"no public key for the ledger at {target} (looked in {folder}); "
                      "pass --public-key with the key examiners were given")


def verify_ledger(target: str | None = None, *, settings: Settings | None = None,
                  public_key: Path | None = None, checkpoints: Path | None = None,
                  strict: bool = False, allow_unsigned_tail: int = 0,
                  state: Path | None = None, full: bool = False, jobs: int = 1,
                  progress: Progress | None = None) -> tuple[VerifyReport, Path]:
    """Verify the ledger read-only; returns the report and the trusted key's path.

    `checkpoints` is a checkpoint file kept elsewhere (the copy shipped off the machine);
    default: the ledger's own checkpoint file, when it exists. `state` is the verifier's
    own state file (see verify_state.py; never in the ledger's folder): unless `full`, the
    run continues from the signed checkpoint saved there with the same key, and an ok run
    saves its last verified checkpoint there. A run from genesis uses `jobs` processes.
    """
    settings = settings or current()
    target = target or settings.ledger
    pem, source = trusted_key(target, settings, public_key)
    shipped_file = checkpoints or checkpoint_file_of(target, settings)
    if checkpoints is not None and not checkpoints.is_file():
        raise LedgerError(f"no checkpoint file at {checkpoints}")
    try:
        shipped = [json.loads(line) for line in shipped_file.read_bytes().splitlines()
                   if line.strip()] if shipped_file.is_file() else []
    except ValueError:
        raise LedgerError(f"{shipped_file} is not a checkpoint file (one JSON object per "
                          "line)") from None
    store = open_store(target, settings, read_only=True)
    notes: list[str] = []
    try:
        report: VerifyReport | None = None
        point, why = load_point(state, key_id(pem)) if state and not full else (None, "")
        moved = changed(target, list(point.files)) if point is not None else ""
        if moved:  # a change before the saved point: only a run from genesis can say where
            point, why = None, f"{moved}; verified from genesis"
        notes += [why] if why else []
        if point is not None:
            try:
                report = verify_since(point, store.lines(point.seq), pem, shipped,
                                      strict=strict, allow_unsigned_tail=allow_unsigned_tail,
                                      progress=progress)
            except FullVerifyNeeded as reason:
                notes.append(str(reason))
        if report is None and jobs > 1:
            report = verify_parallel(store.lines(), pem, shipped, strict=strict, jobs=jobs,
                                     allow_unsigned_tail=allow_unsigned_tail,
                                     progress=progress)
        elif report is None:
            report = verify_lines(store.lines(), pem, shipped, strict=strict,
                                  allow_unsigned_tail=allow_unsigned_tail, progress=progress)
    finally:
        store.close()
    report = replace(report, warnings=(*report.warnings, *notes))
    if state is not None and report.ok and report.point is not None:
        save_point(state, replace(report.point,
                                  verified_at=datetime.now(UTC).isoformat(timespec="seconds"),
                                  files=tuple(snapshot(target, report.point.seq))))
    return report, source


__all__ = ["CHECKPOINT_FILE", "Ledger", "Proof", "Receipt", "Store", "VerifyReport",
           "checkpoint_file_of", "key_dir_of", "open_ledger", "open_store", "trusted_key",
           "verify_ledger", "verify_proof"]
