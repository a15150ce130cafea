"""The tamper-evident audit ledger: hash chain, signed Merkle checkpoints, proofs.

`open_ledger()` picks the store from SUPERVISOR_LEDGER: a directory (JSONL segments, the
embedded default `audit_logs/`) or a `postgresql://` URL. A torn tail found at open is
repaired and recorded with a `recovery` record before anything else is appended.
"""

from __future__ import annotations

from pathlib import Path

from supervisor.ledger.core import Ledger, Proof, Receipt, Store, verify_proof
from supervisor.ledger.signing import Signer
from supervisor.ledger.verify import VerifyReport
from supervisor.settings import Settings, current

CHECKPOINT_FILE = "checkpoints.jsonl"


async def open_ledger(target: str | None = None, *, settings: Settings | None = None
                      ) -> Ledger:
    """Open (creating if needed) the ledger named by `target` or the settings."""
    settings = settings or current()
    target = target or settings.ledger
    store: Store
    if target.startswith(("postgresql://", "postgres://")):
        from supervisor.ledger.postgres import PostgresStore

        store = PostgresStore(target)
        checkpoint_file = settings.signing_key_dir / CHECKPOINT_FILE
    else:
        from supervisor.ledger.jsonl import JsonlStore

        store = JsonlStore(Path(target))
        checkpoint_file = Path(target) / CHECKPOINT_FILE
    key_dir = settings.signing_key_dir if settings.key_dir or "://" in target \
        else Path(target) / "keys"
    ledger = Ledger(store, Signer(key_dir), checkpoint_every=settings.checkpoint_every,
                    checkpoint_seconds=settings.checkpoint_seconds,
                    checkpoint_file=checkpoint_file)
    for problem in store.torn:
        await ledger.append("recovery", {"problem": problem, "store": store.name})
    return ledger


__all__ = ["Ledger", "Proof", "Receipt", "Store", "VerifyReport", "open_ledger",
           "verify_proof"]
