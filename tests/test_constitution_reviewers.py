"""`defaults.reviewers`: how many different people close an escalation (1..5, default 1)."""

from __future__ import annotations

from pathlib import Path

import pytest

from supervisor.constitution import Constitution, load_constitution
from supervisor.errors import ConstitutionError

RULES = """\
id: reviewed
version: 1.0.0
DEFAULTS
principles:
  - id: personal-advice
    statement: The answer does not tell the user what to buy.
    action: escalate
    citations: [test]
    checks:
      - pattern: {regex: ['you should buy']}
"""


def _load(tmp_path: Path, defaults: str) -> Constitution:
    path = tmp_path / "reviewed.yaml"
    path.write_text(RULES.replace("DEFAULTS", defaults))
    return load_constitution(path)


def test_one_reviewer_is_the_default(tmp_path: Path) -> None:
    """Without the setting, one reviewer closes an escalation (as before)."""
    assert _load(tmp_path, "").defaults.reviewers == 1


def test_two_reviewers_are_accepted_and_change_the_hash(tmp_path: Path) -> None:
    """`reviewers: 2` loads, and the constitution's sha256 records the stricter rule."""
    plain = _load(tmp_path, "")
    four_eyes = _load(tmp_path, "defaults: {reviewers: 2}")
    assert four_eyes.defaults.reviewers == 2
    assert four_eyes.sha256 != plain.sha256


def test_the_default_reviewers_leave_the_hash_as_it_was(tmp_path: Path) -> None:
    """Spelling out `reviewers: 1` hashes like omitting it: no existing sha256 changed."""
    plain = _load(tmp_path, "")
    spelled = _load(tmp_path, "defaults: {reviewers: 1}")
    assert spelled.sha256 == plain.sha256
    assert b"reviewers" not in plain.canonical


def test_shipped_constitutions_keep_their_hash() -> None:
    """The shipped constitutions' canonical content holds no `reviewers` key."""
    for ref in ("base", "healthcare", "finance"):
        assert b"reviewers" not in load_constitution(ref).canonical


@pytest.mark.parametrize("value", ["0", "6", "two", "-1"])
def test_reviewers_out_of_range_is_refused_naming_the_field(tmp_path: Path,
                                                            value: str) -> None:
    """0, 6 or a word is an error naming `reviewers` and the file, never a silent default."""
    with pytest.raises(ConstitutionError) as caught:
        _load(tmp_path, f"defaults: {{reviewers: {value}}}")
    message = str(caught.value)
    assert "reviewers" in message and "reviewed.yaml" in message
