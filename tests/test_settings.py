"""Settings come from SUPERVISOR_* variables, with fail-closed defaults and clear errors."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from supervisor.errors import ConfigError
from supervisor.settings import PROJECT_DIR, current


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


def test_database_ledger_keys_default_to_the_user_data_folder(tmp_path: Path) -> None:
    """A database ledger's signing key lives under XDG_DATA_HOME (else ~/.local/share),
    never inside the installed package."""
    url = "postgresql://db/ledger"
    s = current({"SUPERVISOR_LEDGER": url, "XDG_DATA_HOME": str(tmp_path)})
    assert s.signing_key_dir == tmp_path / "constitutional-supervisor" / "keys"
    home = current({"SUPERVISOR_LEDGER": url}).signing_key_dir
    assert home == Path.home() / ".local" / "share" / "constitutional-supervisor" / "keys"
    assert PROJECT_DIR not in s.signing_key_dir.parents


def test_explicit_and_file_ledger_key_folders_are_kept(tmp_path: Path) -> None:
    """SUPERVISOR_KEY_DIR wins; a file ledger keeps its key beside its records."""
    chosen = current({"SUPERVISOR_LEDGER": "postgresql://db/l", "XDG_DATA_HOME": "/x",
                      "SUPERVISOR_KEY_DIR": str(tmp_path)})
    assert chosen.signing_key_dir == tmp_path
    assert current({"SUPERVISOR_LEDGER": "logs"}).signing_key_dir == Path("logs") / "keys"


def test_a_key_left_in_the_source_tree_keeps_signing(tmp_path: Path) -> None:
    """A key an earlier version made in the checkout's .keys is used while the data
    folder has none, so a running deployment does not start a new key."""
    legacy = PROJECT_DIR / ".keys"
    if legacy.exists():
        pytest.skip(f"{legacy} holds a real key folder; not touched by tests")
    settings = current({"SUPERVISOR_LEDGER": "postgresql://db/l",
                        "XDG_DATA_HOME": str(tmp_path)})
    try:
        legacy.mkdir()
        (legacy / "ledger_ed25519.pem").write_text("key")
        assert settings.signing_key_dir == legacy
        fresh = tmp_path / "constitutional-supervisor" / "keys"
        fresh.mkdir(parents=True)
        (fresh / "ledger_ed25519.pem").write_text("key")
        assert settings.signing_key_dir == fresh
    finally:
        shutil.rmtree(legacy, ignore_errors=True)
