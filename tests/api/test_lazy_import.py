"""`api` loads its app on first use: a multi-worker server's parent reads only the keys."""

from __future__ import annotations

import subprocess
import sys

import pytest

import api


def _modules_after(code: str) -> set[str]:
    """The modules a fresh interpreter holds after running `code`."""
    shown = subprocess.run(
        [sys.executable, "-c", f"{code}\nimport sys\nprint('\\n'.join(sys.modules))"],
        capture_output=True, text=True, check=True)
    return set(shown.stdout.split())


def test_the_keys_and_logs_do_not_import_the_app() -> None:
    loaded = _modules_after("import api.keys, api.logs")
    assert "api.keys" in loaded
    assert not {"api.app", "api.service", "fastapi"} & loaded


def test_the_package_still_hands_out_the_app_and_the_service() -> None:
    from api.app import create_app
    from api.service import Service

    assert api.create_app is create_app and api.Service is Service
    with pytest.raises(AttributeError, match="no attribute 'nothing'"):
        api.nothing  # noqa: B018
