"""The parallel full verify reports exactly what the sequential one does."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from supervisor.ledger.merkle import Tree, block_levels, leaf_hash
from supervisor.ledger.verify import verify_lines
from supervisor.ledger.verify_parallel import verify_parallel
from tests.ledger.test_chain import FIXED


def _same(lines: list[bytes], pem: bytes, **options: object) -> None:
    # the options are verify_lines' keywords, passed through
    expected = verify_lines(lines, pem, **options)  # type: ignore[arg-type]
    for block in (1, 2, 4, 16):
        # the options are verify_lines' keywords, passed through
        found = verify_parallel(lines, pem, jobs=1, block=block, **options)  # type: ignore[arg-type]
        assert (found.ok, found.bad_seq, found.problem, found.records, found.checkpoints,
                found.head, found.unsigned_tail) == \
            (expected.ok, expected.bad_seq, expected.problem, expected.records,
             expected.checkpoints, expected.head, expected.unsigned_tail)


def test_an_intact_ledger_verifies_in_parallel_with_worker_processes() -> None:
    """Two worker processes over blocks of 4 records: ok, same head and counts."""
    lines, pem = FIXED
    report = verify_parallel(lines, pem, jobs=2, block=4)
    expected = verify_lines(lines, pem)
    assert report.ok and report.to_dict() == expected.to_dict()
    assert report.point is not None and report.point == expected.point


@settings(max_examples=120, deadline=None)
@given(data=st.data())
def test_any_single_byte_change_is_reported_as_the_sequential_verify_does(
        data: st.DataObject) -> None:
    """A random byte of a random record changed: same first bad seq and problem."""
    lines, pem = FIXED
    index = data.draw(st.integers(0, len(lines) - 1))
    line = bytearray(lines[index])
    position = data.draw(st.integers(0, len(line) - 1))
    line[position] = data.draw(st.integers(0, 255).filter(lambda b: b != line[position]))
    _same([*lines[:index], bytes(line), *lines[index + 1:]], pem,
          strict=data.draw(st.booleans()))


@settings(max_examples=40, deadline=None)
@given(data=st.data())
def test_deletions_swaps_and_duplicates_are_reported_alike(data: st.DataObject) -> None:
    """Removed, swapped or duplicated records, and cut ledgers, give the same report."""
    lines, pem = FIXED
    i = data.draw(st.integers(0, len(lines) - 2))
    for variant in (lines[:i] + lines[i + 1:], [*lines[:i], lines[i + 1], lines[i],
                                                *lines[i + 2:]],
                    [*lines[:i + 1], lines[i], *lines[i + 1:]], lines[:i]):
        _same(variant, pem)
        _same(variant, pem, allow_unsigned_tail=3)


def test_tree_blocks_build_the_same_tree_as_appending() -> None:
    """Blocks of aligned leaves added with extend_block give the tree appends give."""
    leaves = [bytes([i]) * 32 for i in range(37)]
    appended, blocked = Tree(), Tree()
    for leaf in leaves:
        appended.append(leaf)
    for start in range(0, 37, 8):
        hashed = b"".join(leaf_hash(leaf) for leaf in leaves[start:start + 8])
        blocked.extend_block(block_levels(hashed, 3))
    assert blocked.levels == appended.levels
    assert all(blocked.root(n) == appended.root(n) for n in range(38))


def test_worker_processes_report_a_tampered_record_as_the_sequential_verify_does() -> None:
    """Two worker processes, blocks of 2: a changed record and a changed checkpoint are
    reported at the same seq with the same problem."""
    lines, pem = FIXED
    for index in (3, 5, len(lines) - 1):
        tampered = list(lines)
        tampered[index] = tampered[index].replace(b'"kind":"', b'"kind":"x', 1)
        found, expected = verify_parallel(tampered, pem, jobs=2, block=2), \
            verify_lines(tampered, pem)
        assert (found.bad_seq, found.problem) == (expected.bad_seq, expected.problem)
        assert not found.ok and found.bad_seq == index
