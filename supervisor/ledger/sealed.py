"""Sealed texts (`store_text: encrypted`): sealing a decision's texts, opening them, erasing.

A decision record under `encrypted` keeps what `none` keeps in the clear (actions,
principles, labels, timings) and adds `sealed`: one AES-256-GCM ciphertext of every
text the other policies would store (prompt, original, output, the request's context
entries other than the labels, verdict rationales and evidence, revision texts), with
its nonce, the subject id and the data key id. The hash chain covers that ciphertext;
the plaintext and the data key never reach the ledger (see `keystore` for the keys).

Text hashes: under `redacted` and `full` the record keeps a bare sha256 of each text.
Under `encrypted` it keeps `text_hmac` instead, an HMAC-SHA256 under a key derived from
the subject's data key: a bare hash of a short text (a name, an SSN, "yes") is reversed
by hashing guesses, so it would outlive the erasure it is meant to survive. Before the
erasure a reviewer holding the keys can still match a text seen elsewhere (`mac_of`);
after it, the HMACs are as unreadable as the texts.

Erasure appends an `erasure` record (subject ids, key ids, reason, who, when; never the
user_ref), then destroys the keys; retention is the same with reason "retention".
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from supervisor.errors import ConfigError, LedgerError
from supervisor.ledger.canonical import canonical
from supervisor.ledger.keystore import STORE_NAME, DataKey, KeyRow, KeyStore, load_master_key
from supervisor.settings import Settings, current

if TYPE_CHECKING:
    from supervisor.ledger.core import Ledger

ALG = "AES-256-GCM"
RETENTION = "retention"
BATCH = 10_000  # subjects named by one erasure record


def _subkey(key: DataKey, purpose: bytes) -> bytes:
    """Separate keys for encryption and for the text HMACs, both from the data key."""
    return hmac.new(key.secret, b"sealed-texts/" + purpose, hashlib.sha256).digest()


def _aad(subject: str, key_id: str) -> bytes:
    return canonical({"alg": ALG, "key_id": key_id, "subject": subject})


def mac_of(key: DataKey, text: str) -> str:
    """The `text_hmac` of `text` under a subject's data key."""
    return hmac.new(_subkey(key, b"hmac"), text.encode(), hashlib.sha256).hexdigest()


class TextKeys:
    """Seals and opens record texts with the data keys of one key store."""

    def __init__(self, store: KeyStore) -> None:
        self.store = store

    def seal_decision(self, body: dict[str, Any], full: Mapping[str, Any],
                      labels: frozenset[str]) -> dict[str, Any]:
        """`body`, built under `none`, with the texts of `full` (Decision.to_dict) sealed."""
        context = {k: v for k, v in full["context"].items() if k not in labels}
        texts = {k: full[k] for k in ("prompt", "original", "output")}
        document = {
            "texts": texts, "context": context,
            "verdicts": [{"rationale": v["rationale"], "evidence": v["evidence"]}
                         for v in full["verdicts"]],
            "revisions": [r["text"] for r in full["revisions"]],
        }
        key = self.store.key_for(context.get("user_ref") or None)
        nonce = os.urandom(12)
        sealed = AESGCM(_subkey(key, b"aes-256-gcm")).encrypt(
            nonce, canonical(document), _aad(key.subject, key.key_id))
        body.pop("text_sha256", None)
        body.update(store_text="encrypted", text_hmac={k: mac_of(key, v)
                                                       for k, v in texts.items()},
                    sealed={"alg": ALG, "subject": key.subject, "key_id": key.key_id,
                            "nonce": base64.b64encode(nonce).decode(),
                            "ciphertext": base64.b64encode(sealed).decode()})
        for revision, text in zip(body["revisions"], document["revisions"], strict=True):
            revision.pop("text_sha256", None)
            revision["text_hmac"] = mac_of(key, text)
        return body

    def open(self, body: Mapping[str, Any]) -> Opened:
        """The body with its sealed texts restored, or why they cannot be."""
        sealed = body.get("sealed")
        if not isinstance(sealed, dict):
            return Opened(dict(body))
        subject, key_id = str(sealed.get("subject")), str(sealed.get("key_id"))
        key = self.store.open_key(subject, key_id)
        if isinstance(key, KeyRow):
            return Opened(dict(body), erased_on=str(key.erased), erasure=key.erasure or "",
                          reason=key.reason or "")
        if key is None:
            return Opened(dict(body), problem=f"the key store {self.store.path} holds no "
                          f"data key {key_id}; restore the key store from its backup")
        try:
            plain = AESGCM(_subkey(key, b"aes-256-gcm")).decrypt(
                base64.b64decode(sealed["nonce"]), base64.b64decode(sealed["ciphertext"]),
                _aad(subject, key_id))
        except (InvalidTag, KeyError, ValueError):
            return Opened(dict(body), problem=f"the sealed texts do not open with data key "
                          f"{key_id}; the record or the key store was altered")
        return Opened(_restored(body, json.loads(plain)), opened=True)


@dataclass(frozen=True, slots=True)
class Opened:
    """A record body with its texts restored (`opened`), or as stored and why not."""

    body: dict[str, Any]
    opened: bool = False
    erased_on: str = ""  # when the key was destroyed (the erasure record's `erased_at`)
    erasure: str = ""  # the erasure record's id
    reason: str = ""
    problem: str = ""

    @property
    def note(self) -> str:
        """One line for a reader: erased on DATE, or what stands in the way."""
        if self.erased_on:
            return (f"erased on {self.erased_on[:10]} ({self.reason or 'erasure'}; record "
                    f"{self.erasure})")
        return self.problem


def _restored(body: Mapping[str, Any], document: dict[str, Any]) -> dict[str, Any]:
    restored = dict(body)
    restored["texts"] = document["texts"]
    restored["context"] = {**(body.get("context") or {}), **document["context"]}
    restored["verdicts"] = [{**v, **opened} for v, opened
                            in zip(body.get("verdicts") or [], document["verdicts"],
                                   strict=False)]
    restored["revisions"] = [{**r, "text": text} for r, text
                             in zip(body.get("revisions") or [], document["revisions"],
                                    strict=False)]
    return restored


_opened: dict[tuple[Path, Path], TextKeys] = {}
_opening = threading.Lock()


def store_path(settings: Settings) -> Path:
    """Where the key store lives: beside the signing key."""
    return settings.signing_key_dir / STORE_NAME


def keys_for(settings: Settings | None = None, *, create: bool = True) -> TextKeys:
    """The process's TextKeys for these settings (the master key loaded, or created on
    first use when SUPERVISOR_MASTER_KEY is unset and `create`: readers pass False, as a
    new key opens nothing); one per key store and master key."""
    settings = settings or current()
    where = (store_path(settings), settings.master_key_file)
    with _opening:
        if where not in _opened:
            master = load_master_key(where[1],
                                     configured=bool(settings.master_key) or not create)
            _opened[where] = TextKeys(KeyStore(where[0], master,
                                               timeout=settings.ledger_timeout_s))
        return _opened[where]


# -- erasure and retention --------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class Erasure:
    """What an erasure did: its records, the subjects and keys destroyed, and when."""

    records: tuple[str, ...]
    subjects: tuple[str, ...]
    key_ids: tuple[str, ...]
    erased_at: str
    reason: str
    extra: dict[str, Any] = field(default_factory=dict)


async def erase(ledger: Ledger, keys: TextKeys, target: str, *, reason: str,
                by: str) -> Erasure:
    """Destroy the data keys of `target` (a user_ref, a subject id, or a record id whose
    texts are their own subject) and append the `erasure` record first."""
    if not reason.strip():
        raise ConfigError("an erasure needs its reason (--reason), e.g. 'GDPR Art. 17 "
                          "request of 2026-11-02'")
    rows = keys.store.live(target)
    if not rows and target.startswith("rec_"):
        record = ledger.get(target)
        sealed = ((record or {}).get("body") or {}).get("sealed") or {}
        if sealed.get("subject"):
            target = str(sealed["subject"])
            rows = keys.store.live(target)
    if not rows:
        gone = keys.store.erased(target)
        if gone:
            raise ConfigError(f"subject {target} was erased on {str(gone[0].erased)[:10]} "
                              f"(record {gone[0].erasure}); nothing is left to erase")
        raise ConfigError(f"no live data key for subject {target!r} in {keys.store.path}: "
                          "give a user_ref, a subject id (subj_...) or the id of a record "
                          "stored with store_text: encrypted")
    return await _destroy(ledger, keys, rows, reason=reason, by=by)


async def retain(ledger: Ledger, keys: TextKeys, *, days: int, by: str) -> Erasure | None:
    """Destroy the keys whose newest text is older than `days`; None when none is."""
    if days < 1:
        raise ConfigError(f"retain_texts_days={days}: keep texts at least 1 day")
    cutoff = keys.store.clock() - timedelta(days=days)
    rows = keys.store.expired(cutoff)
    if not rows:
        return None
    return await _destroy(ledger, keys, rows, reason=RETENTION, by=by,
                          extra={"retain_texts_days": days,
                                 "cutoff": cutoff.isoformat().replace("+00:00", "Z")})


async def _destroy(ledger: Ledger, keys: TextKeys, rows: list[KeyRow], *, reason: str,
                   by: str, extra: dict[str, Any] | None = None) -> Erasure:
    """Record first, then destroy: a record whose keys survive a crash is repaired by
    running the command again; keys destroyed without a record could not be explained."""
    when = keys.store.now()
    records: list[str] = []
    for start in range(0, len(rows), BATCH):
        batch = rows[start:start + BATCH]
        body = {"subjects": [r.subject for r in batch], "key_ids": [r.key_id for r in batch],
                "reason": reason, "by": by, "erased_at": when, **(extra or {})}
        receipt = await ledger.append("erasure", body)
        try:
            keys.store.destroy([r.key_id for r in batch], erasure=receipt.id, when=when,
                               reason=reason)
        except Exception as exc:
            raise LedgerError(f"erasure record {receipt.id} is written but its keys were "
                              f"not destroyed ({exc}); run the command again") from None
        records.append(receipt.id)
    return Erasure(tuple(records), tuple(r.subject for r in rows),
                   tuple(r.key_id for r in rows), when, reason, extra or {})


