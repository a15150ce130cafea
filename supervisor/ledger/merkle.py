"""RFC 6962 Merkle tree hashes, inclusion proofs and their verification.

    leaf hash  = sha256(0x00 || leaf)        node hash = sha256(0x01 || left || right)
    MTH of n leaves splits at k, the largest power of two below n (RFC 6962 section 2.1).

Leaves are the records' chain hashes (32 bytes each). `Tree` keeps every aligned perfect
subtree's hash, level by level, so an inclusion proof at a million records costs a few
dozen lookups instead of rehashing the log: every left part of an RFC 6962 split is
aligned on its own size, so it is always one of the stored subtrees.

A ledger keeps none of that in memory: `StoredTree` answers roots, proofs and frontiers
from `Nodes` kept beside the records (the read index), which hold the record hashes and
only the perfect subtrees of BLOCK leaves and up (`grow_nodes` computes them as records
are indexed); anything smaller is hashed from at most one block of leaves.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from typing import Protocol

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

    def extend_block(self, levels: Sequence[bytes]) -> None:
        """Add a block of leaves hashed elsewhere (a verifier's worker process).

        `levels[0]` holds the block's leaf hashes and `levels[l]` its complete parents at
        level l; the tree's size must be a multiple of 2 ** (len(levels) - 1), so the
        block's subtrees are aligned. A full block's top node completes parents above it.
        """
        top = len(levels) - 1
        if len(self) % (1 << top):
            raise ValueError(f"a block of {top + 1} levels cannot start at leaf {len(self)}")
        while len(self.levels) < len(levels):
            self.levels.append(bytearray())
        for level, row in enumerate(levels):
            self.levels[level] += row
        if len(levels[top]) != 32:
            return
        index, level = len(self.levels[top]) // 32 - 1, top
        while index % 2 == 1:
            above = self.levels[level]
            parent = node_hash(bytes(above[(index - 1) * 32:index * 32]),
                               bytes(above[index * 32:(index + 1) * 32]))
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


def block_levels(leaf_hashes: bytes, top: int) -> list[bytes]:
    """The levels `Tree.extend_block` takes, from concatenated leaf hashes (up to 2**top)."""
    levels = [leaf_hashes]
    for _ in range(top):
        row = levels[-1]
        levels.append(b"".join(node_hash(row[i:i + 32], row[i + 32:i + 64])
                               for i in range(0, len(row) - 63, 64)))
    return levels


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


class Frontier:
    """The right edge of a Merkle tree: enough to continue computing its root.

    A tree of n leaves is, left to right, one perfect subtree per set bit of n (largest
    first); those O(log n) hashes are all `root()` needs, and `append` merges equal
    neighbours like a binary counter. A verifier keeps this instead of every leaf, so a
    later run continues from where it stopped. Roots of sizes below `size` cannot be
    recomputed from a frontier: those leaves are gone.
    """

    def __init__(self, size: int = 0, hashes: Sequence[bytes] = ()) -> None:
        if size < 0 or len(hashes) != size.bit_count():
            raise ValueError(f"a frontier of {size} leaves has {size.bit_count()} subtree "
                             f"hashes, not {len(hashes)}")
        self.size = size
        self.hashes = list(hashes)  # perfect subtree hashes, largest (leftmost) first

    def __len__(self) -> int:
        return self.size

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Frontier) and (self.size, self.hashes) == (other.size,
                                                                           other.hashes)

    __hash__ = None  # type: ignore[assignment]  # mutable

    @classmethod
    def of_tree(cls, tree: Tree, size: int) -> Frontier:
        """The frontier of the first `size` leaves of `tree`."""
        if not 0 <= size <= len(tree):
            raise ValueError(f"no frontier of {size} leaves in a tree of {len(tree)}")
        hashes, start = [], 0
        for level in range(size.bit_length() - 1, -1, -1):
            if size >> level & 1:
                hashes.append(tree.hash(start, start + (1 << level)))
                start += 1 << level
        return cls(size, hashes)

    def copy(self) -> Frontier:
        return Frontier(self.size, self.hashes)

    def append(self, leaf: bytes) -> None:
        """Add one leaf (raw leaf data, hashed with the 0x00 prefix here)."""
        node, self.size = leaf_hash(leaf), self.size + 1
        merges = (self.size & -self.size).bit_length() - 1  # trailing zeros of the new size
        for _ in range(merges):
            node = node_hash(self.hashes.pop(), node)
        self.hashes.append(node)

    def root(self) -> bytes:
        """MTH of all leaves so far."""
        if not self.hashes:
            return EMPTY_ROOT
        node = self.hashes[-1]
        for left in reversed(self.hashes[:-1]):
            node = node_hash(left, node)
        return node


NODE_LEVEL = 8  # perfect subtrees of 2**NODE_LEVEL leaves and up are stored
BLOCK = 1 << NODE_LEVEL
LEAVES = -1  # `Nodes.nodes` key (LEAVES, n): block n's leaf data, where it is at hand


class Nodes(Protocol):
    """Where a ledger's leaves and stored subtree hashes are read from (its index)."""

    def leaves(self, start: int, end: int) -> bytes:
        """The leaf data (record hashes, 32 bytes each) of seqs [start, end) that exist."""
        ...

    def node(self, level: int, index: int) -> bytes | None:
        """The stored hash of perfect subtree `index` at `level` (>= NODE_LEVEL), if kept."""
        ...

    def nodes(self, wanted: list[tuple[int, int]]) -> dict[tuple[int, int], bytes]:
        """The stored ones of the subtrees (level, index) `wanted`, in one look; a
        (LEAVES, n) key asks for block n's leaf data (what `leaves` gives of it) too,
        which a store may leave out (it is then read through `leaves`)."""
        ...


class StoredTree:
    """RFC 6962 roots, proofs and frontiers over `Nodes`: a few dozen lookups and at most
    a couple of blocks of leaves per answer, whatever the tree's size. A subtree the
    nodes lack (not computed yet) is recomputed from its children. One instance serves
    one answer: the blocks it read are kept until it is dropped."""

    def __init__(self, nodes: Nodes) -> None:
        self.nodes = nodes
        self._blocks: dict[int, list[bytes]] = {}
        self._known: dict[tuple[int, int], bytes] = {}

    def _plan(self, start: int, end: int, wanted: list[tuple[int, int]]) -> None:
        """The stored subtrees MTH of [start, end) is made of, and the blocks whose leaves
        make the smaller ones, added to `wanted`."""
        n = end - start
        if n == 0:
            return
        if n & (n - 1) == 0 and start % n == 0:
            wanted.append((n.bit_length() - 1, start // n) if n >= BLOCK
                          else (LEAVES, start // BLOCK))
            return
        k = _split(n)
        self._plan(start, start + k, wanted)
        self._plan(start + k, end, wanted)

    def _fetch(self, wanted: list[tuple[int, int]]) -> None:
        missing = [key for key in dict.fromkeys(wanted) if key not in self._known]
        if missing:
            self._known.update(self.nodes.nodes(missing))

    def _block(self, number: int) -> list[bytes]:
        """Levels 0..NODE_LEVEL-1 of a block: its leaf hashes and its complete parents."""
        if number not in self._blocks:
            data = self._known.get((LEAVES, number))
            if data is None:
                data = self.nodes.leaves(number * BLOCK, (number + 1) * BLOCK)
            hashed = b"".join(leaf_hash(data[i:i + 32]) for i in range(0, len(data), 32))
            self._blocks[number] = block_levels(hashed, NODE_LEVEL - 1)
        return self._blocks[number]

    def perfect(self, level: int, index: int) -> bytes:
        """The hash of the perfect subtree of 2**level leaves starting at index << level."""
        if level >= NODE_LEVEL:
            found = self._known.get((level, index)) or self.nodes.node(level, index)
            if found is not None:
                return found
            return node_hash(self.perfect(level - 1, 2 * index),
                             self.perfect(level - 1, 2 * index + 1))
        row = self._block(index >> (NODE_LEVEL - level))[level]
        at = (index % (1 << (NODE_LEVEL - level))) * 32
        if len(row) < at + 32:
            raise ValueError(f"leaves {index << level} to {(index + 1) << level} are not "
                             "in the index")
        return bytes(row[at:at + 32])

    def hash(self, start: int, end: int) -> bytes:
        """MTH of leaves [start, end)."""
        n = end - start
        if n == 0:
            return EMPTY_ROOT
        if n & (n - 1) == 0 and start % n == 0:
            return self.perfect(n.bit_length() - 1, start // n)
        k = _split(n)
        return node_hash(self.hash(start, start + k), self.hash(start + k, end))

    def root(self, size: int) -> bytes:
        return self.hash(0, size)

    def proof(self, index: int, size: int) -> list[bytes]:
        """The audit path for leaf `index` in the tree of the first `size` leaves."""
        if not 0 <= index < size:
            raise ValueError(f"no leaf {index} in a tree of {size}")
        wanted: list[tuple[int, int]] = [(LEAVES, index // BLOCK)]
        start, end = 0, size
        while end - start > 1:  # the siblings' stored subtrees, fetched in one look
            k = _split(end - start)
            if index < start + k:
                self._plan(start + k, end, wanted)
                end = start + k
            else:
                self._plan(start, start + k, wanted)
                start += k
        self._fetch(wanted)
        path: list[bytes] = []
        start, end = 0, size
        while end - start > 1:  # top down; the path lists siblings bottom up
            k = _split(end - start)
            if index < start + k:
                path.append(self.hash(start + k, end))
                end = start + k
            else:
                path.append(self.hash(start, start + k))
                start += k
        return path[::-1]

    def frontier(self, size: int) -> Frontier:
        """The frontier of the first `size` leaves: one perfect subtree per set bit."""
        self._fetch([(level, (size >> (level + 1)) << 1) for level in range(NODE_LEVEL,
                                                                          size.bit_length())
                     if size >> level & 1])
        hashes, start = [], 0
        for level in range(size.bit_length() - 1, -1, -1):
            if size >> level & 1:
                hashes.append(self.perfect(level, start >> level))
                start += 1 << level
        return Frontier(size, hashes)


def grow_nodes(filled: int, size: int, leaves: Callable[[int, int], bytes],
               node: Callable[[int, int], bytes | None]) -> list[tuple[int, int, bytes]]:
    """The stored subtrees (level, index, hash) completed when the leaves grow from
    `filled` complete blocks to `size` leaves; `leaves` and `node` read what is stored
    (the new leaves included). Leaves are read a few hundred blocks at a time."""
    made: dict[tuple[int, int], bytes] = {}
    last = size // BLOCK
    for first in range(filled, last, 256):
        upto = min(first + 256, last)
        data = leaves(first * BLOCK, upto * BLOCK)
        if len(data) != (upto - first) * BLOCK * 32:
            raise ValueError(f"leaves {first * BLOCK} to {upto * BLOCK} are not all stored")
        for number in range(first, upto):
            chunk = data[(number - first) * BLOCK * 32:(number - first + 1) * BLOCK * 32]
            hashed = b"".join(leaf_hash(chunk[i:i + 32]) for i in range(0, len(chunk), 32))
            level, index = NODE_LEVEL, number
            made[level, index] = block_levels(hashed, NODE_LEVEL)[NODE_LEVEL]
            while index % 2 == 1:  # a right child completes its parent
                left = made.get((level, index - 1)) or node(level, index - 1)
                if left is None:
                    raise ValueError(f"subtree {index - 1} at level {level} is not stored")
                made[level + 1, index // 2] = node_hash(left, made[level, index])
                level, index = level + 1, index // 2
    return [(level, index, digest) for (level, index), digest in made.items()]
