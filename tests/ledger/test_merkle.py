"""RFC 6962 Merkle hashing against the published test vectors, and proof round trips."""

from __future__ import annotations

import pytest

from supervisor.ledger.merkle import EMPTY_ROOT, Tree, root_from_proof, root_of

# transparency-dev/merkle test vectors (RFC 6962): leaves, roots for sizes 1..8, proofs
LEAVES = [bytes.fromhex(h) for h in ("", "00", "10", "2021", "3031", "40414243",
                                      "5051525354555657", "606162636465666768696a6b6c6d6e6f")]
ROOTS = [
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]
PROOFS = {
    0: ["96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
        "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
        "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"],
    5: ["bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"],
}


@pytest.fixture
def tree() -> Tree:
    t = Tree()
    for leaf in LEAVES:
        t.append(leaf)
    return t


def test_empty_root_is_sha256_of_nothing() -> None:
    """The empty tree's root is SHA-256 of the empty string."""
    assert EMPTY_ROOT.hex() == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"


def test_roots_match_rfc6962_vectors(tree: Tree) -> None:
    """Every tree size 1..8 has the published root, incrementally and directly."""
    for size in range(1, 9):
        assert tree.root(size).hex() == ROOTS[size - 1]
        assert root_of(LEAVES[:size]).hex() == ROOTS[size - 1]


@pytest.mark.parametrize("index", sorted(PROOFS))
def test_inclusion_proofs_match_vectors_and_verify(tree: Tree, index: int) -> None:
    """Audit paths equal the published ones and lead back to the root."""
    path = tree.proof(index, 8)
    assert [h.hex() for h in path] == PROOFS[index]
    assert root_from_proof(LEAVES[index], index, 8, path).hex() == ROOTS[7]


def test_every_proof_in_every_size_verifies_and_a_wrong_leaf_does_not() -> None:
    """All (index, size) pairs up to 40 leaves round-trip; a different leaf fails."""
    leaves = [i.to_bytes(2, "big") for i in range(40)]
    t = Tree()
    for leaf in leaves:
        t.append(leaf)
    for size in range(1, 41):
        root = t.root(size)
        for index in range(size):
            path = t.proof(index, size)
            assert root_from_proof(leaves[index], index, size, path) == root
            assert root_from_proof(b"forged", index, size, path) != root
