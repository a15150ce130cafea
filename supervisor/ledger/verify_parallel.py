"""A full verification spread over processes: hashing is the cost, and it splits.

Each record's hash depends only on its own bytes and its own `prev_hash` field, so worker
processes check blocks of lines independently (parse, fields, seq, hash, canonical form)
and return the Merkle levels of their block (blocks are aligned powers of two, so every
subtree inside a block is the worker's to hash). The parent checks what crosses blocks in
order: the link from each block's first record to the previous block's last, the
checkpoints against the tree, then the shipped checkpoints and the unsigned tail. It
reports the same first bad seq and problem as `verify_lines`, which checks the same
faults in the same order.
"""

from __future__ import annotations

import itertools
import multiprocessing
from collections import deque
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from typing import Any

from supervisor.errors import LedgerError
from supervisor.ledger.merkle import Tree, block_levels, leaf_hash
from supervisor.ledger.signing import key_id
from supervisor.ledger.verify import (
    FIELDS,
    NOT_LINKED,
    Progress,
    VerifyReport,
    Walk,
    record_problem,
    with_point,
)

BLOCK = 1 << 14  # records per block handed to a worker (a power of two)


@dataclass(frozen=True, slots=True)
class BlockResult:
    """What a worker found in one block, up to its first bad record."""

    levels: list[bytes]  # Merkle levels of the good records (Tree.extend_block)
    kinds: bytes  # 1 per checkpoint record, per good record
    checkpoints: list[tuple[int, Any, str, str]]  # (index, body, previous hash, own hash)
    link: tuple[Any] | None  # record 0's prev_hash, when it got as far as the link check
    failure: tuple[int, str] | None  # (index, problem) of the first bad record
    before_failure: str  # the hash of the record before it (index > 0)
    last: str  # the hash of the last good record


def check_block(start: int, lines: list[bytes], strict: bool, top: int) -> BlockResult:
    """Check the lines of seqs start.. on their own (record 0's link left to the caller)."""
    import json

    leaves, kinds, checkpoints = bytearray(), bytearray(), []
    link: tuple[Any] | None = None
    try:
        first = json.loads(lines[0])
        if isinstance(first, dict) and set(first) == FIELDS and first["seq"] == start:
            link = (first["prev_hash"],)
    except ValueError:
        pass
    head: str | None = None
    failure: tuple[int, str] | None = None
    for index, line in enumerate(lines):
        checked = record_problem(line, start + index, head, strict)
        if isinstance(checked, str):
            failure = (index, checked)
            break
        is_checkpoint = checked.record["kind"] == "checkpoint"
        if is_checkpoint:
            checkpoints.append((index, checked.record["body"], checked.record["prev_hash"],
                                checked.hash))
        kinds.append(is_checkpoint)
        leaves += leaf_hash(bytes.fromhex(checked.hash))
        head = checked.hash
    return BlockResult(block_levels(bytes(leaves), top), bytes(kinds), checkpoints, link,
                       failure, head or "", head or "")


def _blocks(lines: Iterable[bytes], size: int) -> Iterator[list[bytes]]:
    block: list[bytes] = []
    for line in lines:
        block.append(line)
        if len(block) == size:
            yield block
            block = []
    if block:
        yield block


def verify_parallel(lines: Iterable[bytes], public_pem: bytes,
                    shipped: Iterable[dict[str, Any]] = (), *, strict: bool = False,
                    allow_unsigned_tail: int = 0, jobs: int = 2, block: int = BLOCK,
                    progress: Progress | None = None) -> VerifyReport:
    """`verify_lines` with the hashing done by `jobs` processes (1: in this process)."""
    if block < 1 or block & (block - 1):
        raise ValueError(f"block must be a power of two, not {block}")
    top = block.bit_length() - 1
    tree, walk = Tree(), Walk(public_pem, fingerprint=key_id(public_pem))
    blocks = _blocks(lines, block)
    first = list(itertools.islice(blocks, 2))
    blocks = itertools.chain(first, blocks)
    if jobs <= 1 or len(first) < 2:  # one block: starting processes costs more than it saves
        results: Iterator[BlockResult] = (check_block(i * block, b, strict, top)
                                          for i, b in enumerate(blocks))
        return _merge(results, tree, walk, shipped, allow_unsigned_tail, progress)
    context = multiprocessing.get_context("forkserver")
    try:
        with ProcessPoolExecutor(max_workers=jobs, mp_context=context) as pool:
            return _merge(_ordered(pool, blocks, strict, top, block, jobs * 2), tree, walk,
                          shipped, allow_unsigned_tail, progress)
    except BrokenProcessPool:
        raise LedgerError("a verify worker process died (out of memory, or killed); run "
                          "again with fewer --jobs, or --jobs 1") from None


def _ordered(pool: ProcessPoolExecutor, blocks: Iterator[list[bytes]], strict: bool,
             top: int, block: int, ahead: int) -> Iterator[BlockResult]:
    """Results in block order, with at most `ahead` blocks in flight (bounded memory)."""
    pending: deque[Future[BlockResult]] = deque()
    for number, lines in enumerate(blocks):
        pending.append(pool.submit(check_block, number * block, lines, strict, top))
        if len(pending) >= ahead:
            yield pending.popleft().result()
    while pending:
        yield pending.popleft().result()


def _merge(results: Iterator[BlockResult], tree: Tree, walk: Walk,
           shipped: Iterable[dict[str, Any]], allow_unsigned_tail: int,
           progress: Progress | None) -> VerifyReport:
    """Check in order what crosses blocks; stop at the first bad record."""
    for result in results:
        start = walk.seq
        if result.link is not None and result.link[0] != walk.head:
            return walk.bad(NOT_LINKED)
        tree.extend_block(result.levels)
        for index, body, previous, digest in result.checkpoints:
            walk.seq, walk.head = start + index, previous
            problem = walk.checkpoint({"body": body}, digest, tree.root)
            if problem:
                return walk.bad(problem)
        if result.failure is not None:
            index, problem = result.failure
            walk.seq = start + index
            if index:
                walk.head = result.before_failure
            return walk.bad(problem)
        walk.kinds += result.kinds
        walk.seq, walk.head = start + len(result.kinds), result.last
        if progress is not None:
            progress(walk.seq)
    return with_point(walk.finish(shipped, tree.root, allow_unsigned_tail), walk, tree)
