"""Settings come from SUPERVISOR_* variables, with fail-closed defaults and clear errors."""

from __future__ import annotations

import pytest

from supervisor.errors import ConfigError
from supervisor.settings import current


def test_defaults_without_environment() -> None:
    """No variables: JSONL ledger in audit_logs, embedded primary, no supervisor model."""
    s = current({})
    assert s.ledger == "audit_logs" and s.primary == ("local:smollm2",)
    assert s.supervisor == () and s.deadline_s == 30.0


def test_model_lists_are_fallback_chains() -> None:
    """A comma-separated model variable becomes an ordered chain."""
    s = current({"SUPERVISOR_SUPERVISOR_MODEL": "anthropic:a, openai:b"})
    assert s.supervisor == ("anthropic:a", "openai:b")


def test_bad_number_says_what_to_set() -> None:
    """A non-numeric deadline is a ConfigError naming the variable."""
    with pytest.raises(ConfigError, match="SUPERVISOR_DEADLINE"):
        current({"SUPERVISOR_DEADLINE": "soon"})
