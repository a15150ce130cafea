"""Verification: recompute the chain, the Merkle roots and the checkpoint signatures.

Needs only the stored lines and the public key. Reports the first bad record by seq and
what is wrong with it; a ledger shorter than a checkpoint shipped off the machine (the
checkpoint file) is reported as truncated.

A hash chain alone proves nothing against someone who can rewrite the file: they can edit
a record and recompute every hash after it. Only a signature made with the ledger's key
pins records down, so records that no valid signed checkpoint covers (the unsigned tail)
fail verification unless the caller allows that many (`allow_unsigned_tail`; a server
signs within about a second of its last append, so a stopped server's tail is empty).
Checkpoint records themselves are not counted: each is signed on its own.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from supervisor.ledger.canonical import GENESIS, canonical, unsealed_bytes
from supervisor.ledger.merkle import Tree
from supervisor.ledger.signing import key_id, statement, verify_signature

FIELDS = {"seq", "id", "ts", "kind", "body", "prev_hash", "hash"}


@dataclass(frozen=True, slots=True)
class VerifyReport:
    """The outcome of a verification: ok, or the first bad seq and the problem."""

    ok: bool
    records: int
    checkpoints: int
    bad_seq: int | None = None
    problem: str = ""
    head: str = GENESIS
    warnings: tuple[str, ...] = field(default=())
    unsigned_tail: int = 0  # records after the last signed checkpoint, checkpoints aside
    key_id: str = ""  # the fingerprint of the public key trusted

    def to_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "records": self.records, "checkpoints": self.checkpoints,
                "bad_seq": self.bad_seq, "problem": self.problem, "head": self.head,
                "unsigned_tail": self.unsigned_tail, "key_id": self.key_id,
                "warnings": list(self.warnings)}


def verify_lines(lines: Iterable[bytes], public_pem: bytes,  # noqa: PLR0911, PLR0912 (a return per fault)
                 shipped: Iterable[dict[str, Any]] = (), *, strict: bool = False,
                 allow_unsigned_tail: int = 0) -> VerifyReport:
    """Check every line; `shipped` are checkpoints kept outside the ledger (the file).

    The hash is recomputed over the stored bytes, so any changed byte is found. `strict`
    also re-serialises each record to check the line is canonical JSON, which matters
    when another implementation wrote the ledger (it costs about a third of the time).
    More than `allow_unsigned_tail` records beyond the last valid signed checkpoint (in
    the ledger or shipped) fail.
    """
    tree, head, seq, checkpoints, fingerprint = Tree(), GENESIS, 0, 0, key_id(public_pem)
    covered, kinds = 0, bytearray()  # kinds: 1 for a checkpoint record, by seq

    def bad(problem: str) -> VerifyReport:
        return VerifyReport(False, seq, checkpoints, seq, problem, head, key_id=fingerprint)

    for line in lines:
        try:
            record = json.loads(line)
        except ValueError:
            return bad("the line is not valid JSON (a torn last line is moved aside, with "
                       "a recovery record, when the ledger is next opened for writing)")
        if not isinstance(record, dict) or set(record) != FIELDS:
            return bad("the record does not have exactly the fields "
                       + ", ".join(sorted(FIELDS)))
        if record["seq"] != seq:
            return bad(f"expected seq {seq}, found {record['seq']} (a record was removed, "
                       "inserted or moved)")
        if record["prev_hash"] != head:
            return bad("prev_hash does not match the previous record's hash")
        digest = hashlib.sha256(bytes.fromhex(head)
                                + unsealed_bytes(line, str(record["hash"]))).hexdigest()
        if digest != record["hash"]:
            return bad("the hash does not match the record's bytes (content was changed)")
        if strict and canonical(record) != line:
            return bad("the line is not in canonical form")
        if record["kind"] == "checkpoint":
            problem = _checkpoint_problem(record["body"], tree, head, public_pem)
            if problem:
                return bad(problem)
            checkpoints += 1
            covered = max(covered, int(record["body"]["size"]))
        kinds.append(record["kind"] == "checkpoint")
        tree.append(bytes.fromhex(record["hash"]))
        head, seq = record["hash"], seq + 1

    for shipped_checkpoint in shipped:
        size = shipped_checkpoint.get("size", 0)
        if size > len(tree):
            return VerifyReport(False, seq, checkpoints, seq,
                                f"truncated: a shipped checkpoint covers {size} records but "
                                f"the ledger has {len(tree)}", head, key_id=fingerprint)
        problem = _checkpoint_problem(shipped_checkpoint, tree, None, public_pem)
        if problem:
            return VerifyReport(False, seq, checkpoints, size - 1 if size else 0,
                                f"shipped checkpoint of size {size}: {problem}", head,
                                key_id=fingerprint)
        covered = max(covered, int(size))
    tail = len(kinds) - covered - sum(kinds[covered:])
    if tail > allow_unsigned_tail:
        first = kinds.index(0, covered)
        return VerifyReport(False, seq, checkpoints, first,
                            f"{tail} records from seq {first} on are covered by no signed "
                            "checkpoint, so they could have been rewritten undetected; sign "
                            "them with `supervisor audit checkpoint` where the ledger is "
                            "written, or allow them with --allow-unsigned-tail", head,
                            unsigned_tail=tail, key_id=fingerprint)
    return VerifyReport(True, seq, checkpoints, head=head, unsigned_tail=tail,
                        key_id=fingerprint)


def _checkpoint_problem(body: dict[str, Any], tree: Tree, head: str | None,
                        public_pem: bytes) -> str:
    try:
        size, root, signed_head = int(body["size"]), body["root"], body["head"]
        signed = statement(size, root, signed_head, body["time"])
        signature = body["signature"]
    except (KeyError, TypeError, ValueError):
        return "checkpoint is malformed"
    if size > len(tree):
        return f"checkpoint covers {size} records, only {len(tree)} precede it"
    if tree.root(size).hex() != root:
        return "checkpoint Merkle root does not match the records"
    if head is not None and size == len(tree) and signed_head != head:
        return "checkpoint head does not match the previous record"
    if not verify_signature(public_pem, signed, signature):
        return "checkpoint signature does not verify with the public key"
    return ""
