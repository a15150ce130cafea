"""RFC 6962 Merkle tree hashes, inclusion proofs and their verification.

    leaf hash  = sha256(0x00 || leaf)        node hash = sha256(0x01 || left || right)
    MTH of n leaves splits at k, the largest power of two below n (RFC 6962 section 2.1).

Leaves are the records' chain hashes (32 bytes each). `Tree` keeps every aligned perfect
subtree's hash, level by level, so an inclusion proof at a million records costs a few
dozen lookups instead of rehashing the log: every left part of an RFC 6962 split is
aligned on its own size, so it is always one of the stored subtrees.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

EMPTY_ROOT = hashlib.sha256(b"").digest()


def leaf_hash(leaf: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + leaf).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def _split(n: int) -> int:
    """The largest power of two strictly less than n (n >= 2)."""
    return 1 << ((n - 1).bit_length() - 1)


class Tree:
    """An append-only Merkle tree over leaf hashes with cached perfect subtrees."""

    def __init__(self) -> None:
        self.levels: list[bytearray] = [bytearray()]

    def __len__(self) -> int:
        return len(self.levels[0]) // 32

    def append(self, leaf: bytes) -> None:
        """Add one leaf (the raw leaf data; it is hashed with the 0x00 prefix here)."""
        self.levels[0] += leaf_hash(leaf)
        index, level = len(self) - 1, 0
        while index % 2 == 1:  # a right child completes its parent
            row = self.levels[level]
            parent = node_hash(bytes(row[(index - 1) * 32:index * 32]),
                               bytes(row[index * 32:(index + 1) * 32]))
            level += 1
            if level == len(self.levels):
                self.levels.append(bytearray())
            self.levels[level] += parent
            index //= 2

    def _perfect(self, start: int, size: int) -> bytes:
        level = size.bit_length() - 1
        index = start >> level
        return bytes(self.levels[level][index * 32:(index + 1) * 32])

    def hash(self, start: int, end: int) -> bytes:
        """MTH of leaves [start, end)."""
        n = end - start
        if n == 0:
            return EMPTY_ROOT
        if n & (n - 1) == 0 and start % n == 0:
            return self._perfect(start, n)
        k = _split(n)
        return node_hash(self.hash(start, start + k), self.hash(start + k, end))

    def root(self, size: int | None = None) -> bytes:
        return self.hash(0, len(self) if size is None else size)

    def proof(self, index: int, size: int) -> list[bytes]:
        """The RFC 6962 audit path for leaf `index` in the tree of the first `size` leaves."""
        if not 0 <= index < size <= len(self):
            raise ValueError(f"no leaf {index} in a tree of {size}")
        return self._path(index, 0, size)

    def _path(self, index: int, start: int, end: int) -> list[bytes]:
        n = end - start
        if n == 1:
            return []
        k = _split(n)
        if index < start + k:
            return [*self._path(index, start, start + k), self.hash(start + k, end)]
        return [*self._path(index, start + k, end), self.hash(start, start + k)]


def root_of(leaves: Sequence[bytes]) -> bytes:
    """MTH of a list of leaves, computed directly (for tests and small logs)."""
    if not leaves:
        return EMPTY_ROOT
    if len(leaves) == 1:
        return leaf_hash(leaves[0])
    k = _split(len(leaves))
    return node_hash(root_of(leaves[:k]), root_of(leaves[k:]))


def root_from_proof(leaf: bytes, index: int, size: int, path: Sequence[bytes]) -> bytes:
    """Recompute the root from a leaf and its audit path (RFC 9162 section 2.1.3.2)."""
    if not 0 <= index < size:
        raise ValueError("leaf index outside the tree")
    fn, sn, node = index, size - 1, leaf_hash(leaf)
    for sibling in path:
        if sn == 0:
            raise ValueError("proof is longer than the tree is deep")
        if fn % 2 == 1 or fn == sn:
            node = node_hash(sibling, node)
            if fn % 2 == 0:
                while fn % 2 == 0 and fn != 0:
                    fn, sn = fn >> 1, sn >> 1
        else:
            node = node_hash(node, sibling)
        fn, sn = fn >> 1, sn >> 1
    if sn != 0:
        raise ValueError("proof is shorter than the tree is deep")
    return node
