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

`verify_lines` checks from genesis; `verify_since` continues from a `VerifiedPoint` a
previous run saved (see verify_state.py); `verify_parallel.py` splits a full run over
processes. All three report the same first bad seq and problem for the same lines.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import orjson

from supervisor.ledger.canonical import GENESIS, canonical, unsealed_bytes
from supervisor.ledger.merkle import Frontier, Tree
from supervisor.ledger.signing import key_id, statement, verify_signature
from supervisor.ledger.verify_state import VerifiedPoint

FIELDS = {"seq", "id", "ts", "kind", "body", "prev_hash", "hash"}
NOT_JSON = ("the line is not valid JSON (a torn last line is moved aside, with a recovery "
            "record, when the ledger is next opened for writing)")
NOT_LINKED = "prev_hash does not match the previous record's hash"
_DECODE = json.JSONDecoder().decode
Progress = Callable[[int], None]  # called with the seq verified up to, now and then


class FullVerifyNeeded(Exception):
    """An incremental run cannot decide; the reason is the message."""


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
    start: int = 0  # the first seq this run read (0: from genesis)
    point: VerifiedPoint | None = None  # where the next run may continue, when ok

    def to_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "records": self.records, "checkpoints": self.checkpoints,
                "bad_seq": self.bad_seq, "problem": self.problem, "head": self.head,
                "unsigned_tail": self.unsigned_tail, "key_id": self.key_id,
                "warnings": list(self.warnings)}


@dataclass(frozen=True, slots=True)
class Checked:
    """One record that passed the checks its own bytes allow (`record_problem`)."""

    record: dict[str, Any]
    hash: str


def parse_line(line: bytes, *, exact: bool = False) -> Any:
    """A stored line's JSON value; ValueError if it is not JSON.

    orjson parses faster than `json`, and a full verify parses every record. What it
    refuses and `json` reads (a lone surrogate, NaN: never sealed, but a changed line may
    hold them) goes to `json`, so every line is accepted or refused as `json` alone would.
    orjson reads an integer over 64 bits (an app's own context may hold one) as a float,
    which the fields a verify reads (all ours, and small) never hold; `exact` (a strict
    verify, which re-serialises the record to check its canonical form) reads with `json`.
    """
    if not exact:
        try:
            return orjson.loads(line)
        except orjson.JSONDecodeError:
            pass
    return _DECODE(line.decode("utf-8", "surrogatepass"))  # no encoding sniffing: UTF-8


def record_problem(line: bytes, seq: int, head: str | None,  # noqa: PLR0911 (a return per fault)
                   strict: bool) -> str | Checked:
    """Check one line as the record at `seq` after `head`: the problem, or the record.

    `head` None leaves the link to the previous record to the caller (a worker process
    that does not know it), who must check it after the seq and before the hash, the
    order the problems are reported in.
    """
    try:
        record = parse_line(line, exact=strict)
    except ValueError:
        return NOT_JSON
    if not isinstance(record, dict) or set(record) != FIELDS:
        return "the record does not have exactly the fields " + ", ".join(sorted(FIELDS))
    if record["seq"] != seq:
        return (f"expected seq {seq}, found {record['seq']} (a record was removed, "
                "inserted or moved)")
    if head is not None and record["prev_hash"] != head:
        return NOT_LINKED
    changed = "the hash does not match the record's bytes (content was changed)"
    try:
        digest = hashlib.sha256(bytes.fromhex(record["prev_hash"])
                                + unsealed_bytes(line, str(record["hash"]))).hexdigest()
    except (TypeError, ValueError):  # only when the caller checks the link: it fails first
        return changed
    if digest != record["hash"]:
        return changed
    if strict and canonical(record) != line:
        return "the line is not in canonical form"
    return Checked(record, digest)


def checkpoint_problem(body: Any, count: int, root: Callable[[int], bytes],
                       head: str | None, public_pem: bytes) -> str:
    """What is wrong with a checkpoint seen after `count` records ("" if nothing).

    `root(size)` is the Merkle root of the first `size` records; `head` the hash of
    record `count - 1` (None for a shipped checkpoint, whose place is unknown).
    """
    try:
        size, root_hex, signed_head = int(body["size"]), body["root"], body["head"]
        signed = statement(size, root_hex, signed_head, body["time"])
        signature = body["signature"]
    except (KeyError, TypeError, ValueError):
        return "checkpoint is malformed"
    if size > count:
        return f"checkpoint covers {size} records, only {count} precede it"
    if root(size).hex() != root_hex:
        return "checkpoint Merkle root does not match the records"
    if head is not None and size == count and signed_head != head:
        return "checkpoint head does not match the previous record"
    if not verify_signature(public_pem, signed, signature):
        return "checkpoint signature does not verify with the public key"
    return ""


@dataclass(slots=True)
class Walk:
    """The running state of a verification, shared by the sequential, incremental and
    parallel paths so they finish (shipped checkpoints, unsigned tail) the same way."""

    public_pem: bytes
    seq: int = 0
    head: str = GENESIS
    checkpoints: int = 0
    covered: int = 0  # records covered by a valid signed checkpoint
    base: int = 0  # the seq `kinds` starts at
    kinds: bytearray = field(default_factory=bytearray)  # 1 for a checkpoint record
    last: tuple[int, str, int] | None = None  # (seq, hash, size) of the last checkpoint
    fingerprint: str = ""

    def bad(self, problem: str, *, at: int | None = None) -> VerifyReport:
        return VerifyReport(False, self.seq, self.checkpoints,
                            self.seq if at is None else at, problem, self.head,
                            key_id=self.fingerprint, start=self.base)

    def checkpoint(self, record: dict[str, Any], digest: str, root: Callable[[int], bytes]
                   ) -> str:
        problem = checkpoint_problem(record["body"], self.seq, root, self.head,
                                     self.public_pem)
        if not problem:
            self.checkpoints += 1
            self.covered = max(self.covered, int(record["body"]["size"]))
            self.last = (self.seq, digest, int(record["body"]["size"]))
        return problem

    def finish(self, shipped: Iterable[dict[str, Any]], root: Callable[[int], bytes],
               allow_unsigned_tail: int, *, checked_below: int = 0) -> VerifyReport:
        """Shipped checkpoints (those below `checked_below` were checked by an earlier
        run), then the unsigned tail."""
        for shipped_checkpoint in shipped:
            size = shipped_checkpoint.get("size", 0)
            if size > self.seq:
                return self.bad(f"truncated: a shipped checkpoint covers {size} records "
                                f"but the ledger has {self.seq}")
            if isinstance(size, int) and size < checked_below:
                continue
            problem = checkpoint_problem(shipped_checkpoint, self.seq, root, None,
                                         self.public_pem)
            if problem:
                return self.bad(f"shipped checkpoint of size {size}: {problem}",
                                at=size - 1 if size else 0)
            self.covered = max(self.covered, int(size))
        start = max(self.covered, self.base) - self.base
        tail = len(self.kinds) - start - sum(self.kinds[start:])
        if tail > allow_unsigned_tail:
            first = self.kinds.index(0, start) + self.base
            return VerifyReport(
                False, self.seq, self.checkpoints, first,
                f"{tail} records from seq {first} on are covered by no signed checkpoint, "
                "so they could have been rewritten undetected; sign them with `supervisor "
                "audit checkpoint` where the ledger is written, or allow them with "
                "--allow-unsigned-tail", self.head, unsigned_tail=tail,
                key_id=self.fingerprint, start=self.base)
        return VerifyReport(True, self.seq, self.checkpoints, head=self.head,
                            unsigned_tail=tail, key_id=self.fingerprint, start=self.base)


def verify_lines(lines: Iterable[bytes], public_pem: bytes,
                 shipped: Iterable[dict[str, Any]] = (), *, strict: bool = False,
                 allow_unsigned_tail: int = 0, progress: Progress | None = None
                 ) -> VerifyReport:
    """Check every line from genesis; `shipped` are checkpoints kept outside the ledger.

    The hash is recomputed over the stored bytes, so any changed byte is found. `strict`
    also re-serialises each record to check the line is canonical JSON, which matters
    when another implementation wrote the ledger (it costs about a third of the time).
    More than `allow_unsigned_tail` records beyond the last valid signed checkpoint (in
    the ledger or shipped) fail. An ok report carries the point a later run continues at.
    """
    tree, walk = Tree(), Walk(public_pem, fingerprint=key_id(public_pem))
    for line in lines:
        checked = record_problem(line, walk.seq, walk.head, strict)
        if isinstance(checked, str):
            return walk.bad(checked)
        if checked.record["kind"] == "checkpoint":
            problem = walk.checkpoint(checked.record, checked.hash, tree.root)
            if problem:
                return walk.bad(problem)
        walk.kinds.append(checked.record["kind"] == "checkpoint")
        tree.append(bytes.fromhex(checked.hash))
        walk.head, walk.seq = checked.hash, walk.seq + 1
        if progress is not None and walk.seq % 65536 == 0:
            progress(walk.seq)
    return with_point(walk.finish(shipped, tree.root, allow_unsigned_tail), walk, tree)


def with_point(report: VerifyReport, walk: Walk, tree: Tree) -> VerifyReport:
    """The report, carrying the last verified checkpoint record when it is ok."""
    if not report.ok or walk.last is None:
        return report
    seq, digest, size = walk.last
    point = VerifiedPoint(seq, digest, size, Frontier.of_tree(tree, seq + 1), walk.fingerprint)
    return replace(report, point=point)


def verify_since(point: VerifiedPoint, lines: Iterable[bytes], public_pem: bytes,
                 shipped: Sequence[dict[str, Any]] = (), *, strict: bool = False,
                 allow_unsigned_tail: int = 0, progress: Progress | None = None
                 ) -> VerifyReport:
    """Continue a verification from `point`; `lines` start at the point's own record.

    That record must still be there with the saved hash, recomputed from its bytes;
    when it is gone or changed, FullVerifyNeeded says so and the caller verifies from
    genesis, which names the first bad record (a check from here cannot locate it) and
    whose verdict depends only on the ledger, the key and the shipped checkpoints, as
    any other examiner's would: the saved state is a cache, not evidence (shipped
    checkpoints are what proves a truncation). Everything
    after is checked as `verify_lines` does, continuing the Merkle frontier. Checkpoints
    (in the ledger or shipped) of sizes below the frontier's cannot be recomputed from it:
    shipped ones are skipped, as an earlier run checked them; a new one in the ledger
    raises FullVerifyNeeded (our writer never makes one: it signs its own seq as size).
    """
    walk = Walk(public_pem, seq=point.seq + 1, head=point.head, covered=point.size,
                base=point.seq + 1, last=(point.seq, point.head, point.size),
                fingerprint=key_id(public_pem))
    frontier, latest = point.frontier.copy(), point
    wanted = {s for s in (c.get("size") for c in shipped)
              if isinstance(s, int) and s >= frontier.size}
    roots: dict[int, bytes] = {}

    def root(size: int) -> bytes:
        if size == len(frontier):
            return frontier.root()
        if size in roots:
            return roots[size]
        raise FullVerifyNeeded(f"a checkpoint signs {size} records, fewer than the "
                               f"{len(frontier)} verified before; verified from genesis")

    remember = (lambda: roots.__setitem__(len(frontier), frontier.root())) if wanted \
        else None
    if remember is not None and len(frontier) in wanted:
        remember()
    stream = iter(lines)
    saved = next(stream, None)
    if saved is None:
        raise FullVerifyNeeded(f"the ledger ends before seq {point.seq}, which was verified "
                               f"{point.verified_at or 'before'} with this key: records were "
                               "removed or the ledger replaced; verified from genesis")
    again = record_problem(saved, point.seq, None, False)
    if isinstance(again, str) or again.hash != point.head:
        raise FullVerifyNeeded(f"the record at seq {point.seq} no longer has the hash "
                               f"verified {point.verified_at or 'before'}: the ledger up "
                               "to it was rewritten or replaced; verified from genesis")
    for line in stream:
        checked = record_problem(line, walk.seq, walk.head, strict)
        if isinstance(checked, str):
            return walk.bad(checked)
        if checked.record["kind"] == "checkpoint":
            problem = walk.checkpoint(checked.record, checked.hash, root)
            if problem:
                return walk.bad(problem)
        walk.kinds.append(checked.record["kind"] == "checkpoint")
        frontier.append(bytes.fromhex(checked.hash))
        if remember is not None and len(frontier) in wanted:
            remember()
        walk.head, walk.seq = checked.hash, walk.seq + 1
        if walk.last is not None and walk.last[0] == walk.seq - 1:
            last = walk.last
            latest = VerifiedPoint(last[0], last[1], last[2], frontier.copy(),
                                   walk.fingerprint)
        if progress is not None and walk.seq % 65536 == 0:
            progress(walk.seq)
    report = walk.finish(shipped, root, allow_unsigned_tail,
                         checked_below=point.frontier.size)
    return replace(report, point=latest if report.ok else None)
