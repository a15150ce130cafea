"""Evaluation tools are an extra: the core install lacks them, and a command that needs
one says which extra to install instead of a traceback."""

from __future__ import annotations

import sys
import tomllib
from pathlib import Path

import pytest

from supervisor.cli import EXTRAS, missing_extra

PYPROJECT = Path(__file__).resolve().parents[2] / "pyproject.toml"


def test_scikit_learn_and_matplotlib_are_in_the_eval_extra_only() -> None:
    """The supervision installs without the evaluation tools; `[eval]` brings them."""
    project = tomllib.loads(PYPROJECT.read_text())["project"]
    core = " ".join(project["dependencies"])
    assert "scikit-learn" not in core and "matplotlib" not in core
    assert {d.split(">")[0] for d in project["optional-dependencies"]["eval"]} == {
        "scikit-learn", "matplotlib"}
    assert EXTRAS["sklearn"] == EXTRAS["matplotlib"] == "eval"


def test_a_missing_eval_dependency_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    """Importing scikit-learn where it is absent gives the pip command for `[eval]`."""
    monkeypatch.setitem(sys.modules, "sklearn", None)  # as if not installed
    # (and its submodule, which an earlier test in the process may have imported)
    monkeypatch.setitem(sys.modules, "sklearn.linear_model", None)
    with pytest.raises(ModuleNotFoundError) as caught:
        from sklearn.linear_model import LogisticRegression  # noqa: F401
    assert missing_extra(caught.value) == (
        "this command needs sklearn.linear_model, which the [eval] extra installs: "
        "pip install 'constitutional-supervisor[eval]'")


def test_other_missing_modules_are_not_explained_away(monkeypatch: pytest.MonkeyPatch
                                                      ) -> None:
    """A module no extra provides is a bug, not a missing extra: it is not caught."""
    monkeypatch.setitem(sys.modules, "yaml", None)
    with pytest.raises(ModuleNotFoundError) as caught:
        import yaml  # noqa: F401
    assert missing_extra(caught.value) is None
