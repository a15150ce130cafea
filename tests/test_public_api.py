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


# The whole public API. A name added or removed is a change to what users may rely on:
# update this set, README's quick starts and docs/architecture.md together.
PUBLIC = {
    "Action", "ConfigError", "Constitution", "ConstitutionError", "DeadlineExceeded",
    "Decision", "Finding", "IntegrityError", "LedgerError", "OutputBlocked", "Principle",
    "Provenance", "ProviderError", "ProviderRejected", "ProviderUnavailable", "Revision",
    "Supervisor", "SupervisorError", "Usage", "Verdict", "VerdictError", "decide",
    "load_constitution", "supervised",
}


def test_all_is_exactly_the_public_api() -> None:
    """`__all__` holds exactly the pinned names, each once."""
    assert set(supervisor.__all__) == PUBLIC
    assert len(supervisor.__all__) == len(PUBLIC)


def test_star_import_gives_exactly_the_public_api() -> None:
    """`from supervisor import *` binds the pinned names and nothing else."""
    namespace: dict[str, object] = {}
    exec("from supervisor import *", namespace)
    assert set(namespace) - {"__builtins__"} == PUBLIC
