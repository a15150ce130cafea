"""Verification: recompute the chain, the Merkle roots and the checkpoint signatures.

Needs only the stored lines and the public key. Reports the first bad record by seq and
what is wrong with it; a ledger shorter than a checkpoint shipped off the machine (the
checkpoint file) is reported as truncated.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from supervisor.ledger.canonical import GENESIS, canonical, unsealed_bytes
from supervisor.ledger.merkle import Tree
from supervisor.ledger.signing import statement, verify_signature

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


def verify_lines(lines: Iterable[bytes], public_pem: bytes,  # noqa: PLR0911 (a return per fault)
                 shipped: Iterable[dict[str, Any]] = (), *, strict: bool = False
                 ) -> VerifyReport:
    """Check every line; `shipped` are checkpoints kept outside the ledger (the file).

    The hash is recomputed over the stored bytes, so any changed byte is found. `strict`
    also re-serialises each record to check the line is canonical JSON, which matters
    when another implementation wrote the ledger (it costs about a third of the time).
    """
    tree, head, seq, checkpoints = Tree(), GENESIS, 0, 0

    def bad(problem: str) -> VerifyReport:
        return VerifyReport(False, seq, checkpoints, seq, problem, head)

    for line in lines:
        try:
            record = json.loads(line)
        except ValueError:
            return bad("the line is not valid JSON")
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
        tree.append(bytes.fromhex(record["hash"]))
        head, seq = record["hash"], seq + 1

    for shipped_checkpoint in shipped:
        size = shipped_checkpoint.get("size", 0)
        if size > len(tree):
            return VerifyReport(False, seq, checkpoints, seq,
                                f"truncated: a shipped checkpoint covers {size} records but "
                                f"the ledger has {len(tree)}", head)
        problem = _checkpoint_problem(shipped_checkpoint, tree, None, public_pem)
        if problem:
            return VerifyReport(False, seq, checkpoints, size - 1 if size else 0,
                                f"shipped checkpoint of size {size}: {problem}", head)
    return VerifyReport(True, seq, checkpoints, head=head)


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
