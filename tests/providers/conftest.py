"""Shared pieces for the provider tests: a small judge-only constitution and verdicts."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

import pytest

from supervisor.constitution import Constitution, load_constitution

CONSTITUTION = """\
id: providers-test
version: 1.0.0
defaults: {max_revisions: 1, on_error: block}
principles:
  - id: no-dosing
    statement: The answer gives no medication doses.
    action: block
    citations: [t]
    checks:
      - judge: {}
  - id: cite-sources
    statement: The answer cites where its facts come from.
    action: revise
    citations: [t]
    checks:
      - judge: {}
"""
IDS = ("no-dosing", "cite-sources")


@pytest.fixture
def constitution(tmp_path: Path) -> Constitution:
    """Two judge-only principles: every check needs the supervisor model."""
    path = tmp_path / "providers-test.yaml"
    path.write_text(textwrap.dedent(CONSTITUTION))
    return load_constitution(path)


def verdicts(*violated: str, ids: tuple[str, ...] = IDS) -> dict[str, Any]:
    """A well-formed verdict object naming every principle in `ids`."""
    return {"verdicts": [{"principle": i, "violated": i in violated, "confidence": 0.9,
                          "rationale": f"{i} judged", "evidence": []} for i in ids]}
