"""`supervisor serve`'s banner: the API key secrets are shown once, when generated."""

from __future__ import annotations

import io
from pathlib import Path

from rich.console import Console

from api.keys import configured
from supervisor.cli.serve import banner
from supervisor.settings import Settings

ENV_ADMIN = "env-admin-key-0123456789abcdef"


def _banner(settings: Settings) -> str:
    out = io.StringIO()
    banner(Console(file=out, width=200, highlight=False), "127.0.0.1", 8000,
           configured(settings))
    return out.getvalue()


def test_generated_keys_are_shown_on_the_first_start_only(tmp_path: Path) -> None:
    """The start that generates the key file prints the secrets; the next prints names."""
    settings = Settings(ledger=str(tmp_path / "ledger"))
    first = _banner(settings)
    path = settings.signing_key_dir / "api-keys"
    secrets = [line.split(":")[2] for line in path.read_text().split()]
    assert len(secrets) == 3 and all(s in first for s in secrets)
    assert "shown only this once" in first
    second = _banner(settings)
    assert not [s for s in secrets if s in second]
    assert "admin-local" in second and str(path) in second and "APP_KEY" in second
    assert path.read_text().split() == [f"{r}:{n}:{k}" for r, n, k in
                                         configured(settings).keys]  # unchanged


def test_keys_from_the_environment_are_never_shown(tmp_path: Path) -> None:
    """SUPERVISOR_API_KEYS secrets stay out of the banner; their names and roles are in it."""
    settings = Settings(ledger=str(tmp_path / "ledger"),
                        api_keys=f"admin:ops:{ENV_ADMIN},app:{'a' * 20}")
    shown = _banner(settings)
    assert ENV_ADMIN not in shown and "a" * 20 not in shown
    assert "ops" in shown and "SUPERVISOR_API_KEYS" in shown
    assert not (settings.signing_key_dir / "api-keys").exists()

