"""`supervisor constitution lint|test|show|diff` as an author uses them."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.cli.conftest import Run


def test_lint_names_line_and_unknown_key(run: Run, tmp_path: Path) -> None:
    """lint on a file with `acton` says line 9, the key, and the allowed keys; exit 2."""
    path = tmp_path / "c.yaml"
    path.write_text("id: c\nversion: 1.0.0\nprinciples:\n  - id: abc\n"
                    "    statement: A long enough statement.\n    citations: [x]\n"
                    "    checks:\n      - judge: {}\n    acton: block\n")
    result = run("constitution", "lint", str(path))
    assert result.code == 2
    assert "line 9" in result.err and "'acton'" in result.err and "action" in result.err


@pytest.mark.slow
@pytest.mark.parametrize("cid", ["base", "healthcare", "finance"])
def test_shipped_constitutions_pass_their_examples(run: Run, cid: str) -> None:
    """constitution test passes (exit 0) on every shipped constitution."""
    result = run("constitution", "test", cid)
    assert result.code == 0, result.out
    assert " 0 failed" in result.out


def test_show_and_diff(run: Run) -> None:
    """show prints the sha256; diff lists principles added by healthcare over base."""
    show = run("constitution", "show", "healthcare")
    assert show.code == 0 and "sha256" in show.out
    diff = run("constitution", "diff", "base", "healthcare")
    assert "+ emergency-referral" in diff.out
