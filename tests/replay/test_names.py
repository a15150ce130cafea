"""Renamed in `supervisor.replay`: `Replayable` was `Exchange`, `Replayed` was `Outcome`; the
old names still work, with a warning."""

from __future__ import annotations

import pytest

import supervisor.replay as replay_package
from supervisor.replay import Replayable, Replayed


def test_the_old_name_is_the_same_class_with_a_deprecation_warning() -> None:
    """Code written against `Exchange` keeps running and is told the new name."""
    with pytest.warns(DeprecationWarning, match="use Replayable"):
        old = replay_package.Exchange
    assert old is Replayable
    assert "Exchange" not in replay_package.__all__


def test_outcome_is_replayed_with_a_deprecation_warning() -> None:
    """`Outcome` named three things in the package's users' view; it is `Replayed` here."""
    with pytest.warns(DeprecationWarning, match="use Replayed"):
        old = replay_package.Outcome
    assert old is Replayed
    assert "Outcome" not in replay_package.__all__


def test_other_missing_names_still_fail() -> None:
    """The alias does not turn every typo into a value."""
    with pytest.raises(AttributeError, match="Exchang"):
        replay_package.Exchang  # noqa: B018
