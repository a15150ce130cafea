"""The Merkle frontier continues a tree's roots exactly as the full tree computes them."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from supervisor.ledger.merkle import Frontier, Tree


@settings(max_examples=25, deadline=None)
@given(st.lists(st.binary(min_size=32, max_size=32), max_size=300), st.data())
def test_frontier_roots_match_the_tree_at_every_size(leaves: list[bytes],
                                                     data: st.DataObject) -> None:
    """Appending to a frontier gives the tree's root at every size, also when the frontier
    is taken from a tree part-way and continued."""
    tree, frontier = Tree(), Frontier()
    for leaf in leaves:
        tree.append(leaf)
        frontier.append(leaf)
        assert frontier.root() == tree.root() and len(frontier) == len(tree)
    cut = data.draw(st.integers(0, len(leaves)))
    partial = Tree()
    for leaf in leaves[:cut]:
        partial.append(leaf)
    resumed = Frontier.of_tree(partial, cut)
    for size, leaf in enumerate(leaves[cut:], cut + 1):
        resumed.append(leaf)
        assert resumed.root() == tree.root(size)


def test_every_size_up_to_300_matches() -> None:
    """Deterministic sweep: sizes 0..300, frontier taken from the tree at each size."""
    tree, leaves = Tree(), [bytes([i % 256]) * 32 for i in range(300)]
    for leaf in leaves:
        tree.append(leaf)
    for size in range(301):
        frontier = Frontier.of_tree(tree, size)
        assert frontier.root() == tree.root(size)
        assert len(frontier.hashes) == size.bit_count()


def test_a_frontier_with_the_wrong_number_of_hashes_is_refused() -> None:
    """A frontier of n leaves holds one hash per set bit of n; anything else is an error."""
    with pytest.raises(ValueError, match="subtree hashes"):
        Frontier(5, [b"\0" * 32])
