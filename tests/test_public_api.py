"""The public API is exactly what supervisor.__all__ promises, and every name imports."""

from __future__ import annotations

import supervisor


def test_all_names_resolve() -> None:
    """Every name in __all__ is an attribute of the package."""
    missing = [name for name in supervisor.__all__ if not hasattr(supervisor, name)]
    assert missing == []


def test_core_entry_points_are_public() -> None:
    """The names DESIGN.md promises to users are exported."""
    assert {"Supervisor", "load_constitution", "Decision", "Verdict", "Action", "decide",
            "OutputBlocked"} <= set(supervisor.__all__)
