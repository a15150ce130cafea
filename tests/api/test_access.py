"""Keys and roles: 401 without a valid key, 403 for the wrong role, both header styles."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from api.keys import Keys, generated, parse
from supervisor.errors import ConfigError
from tests.api.conftest import ADMIN_KEY, APP_KEY, AUDITOR_KEY, Serve

CASES = [  # (route, method, key, status)
    ("/v1/moderations", "post", None, 401),
    ("/v1/moderations", "post", "not-a-key-0123456789", 401),
    ("/v1/moderations", "post", AUDITOR_KEY, 403),
    ("/v1/audit/records", "get", APP_KEY, 403),
    ("/v1/audit/records", "get", AUDITOR_KEY, 200),
    ("/v1/audit/records", "get", ADMIN_KEY, 200),
    ("/v1/constitutions/reload", "post", AUDITOR_KEY, 403),
    ("/v1/constitutions/reload", "post", ADMIN_KEY, 200),
    ("/v1/constitutions", "get", AUDITOR_KEY, 200),
]


def test_roles_guard_every_route(serve: Serve) -> None:
    """Each route admits its role and admin, and refuses everyone else with 401 / 403."""
    with serve() as served:
        for route, method, key, status in CASES:
            client = served.client(key)
            response = client.request(method.upper(), route,
                                      json={"input": "hello"} if method == "post" else None)
            assert response.status_code == status, (route, key, response.text)
            if status in (401, 403):
                assert response.json()["error"]["type"] in ("authentication_error",
                                                            "permission_error")


def test_anthropic_style_x_api_key_is_accepted(serve: Serve) -> None:
    """The Anthropic SDK sends `x-api-key`; it works like a bearer token."""
    with serve() as served:
        client = served.client(None)
        ok = client.post("/v1/moderations", json={"input": "hi"}, headers={"x-api-key": APP_KEY})
        wrong = client.post("/v1/messages", json={}, headers={"x-api-key": "x" * 20})
    assert ok.status_code == 200
    assert wrong.status_code == 401 and wrong.json()["error"]["type"] == "authentication_error"


def test_keys_are_held_as_hashes() -> None:
    """The plaintext key is not kept in the Keys object."""
    keys = Keys(parse(f"app:{APP_KEY},auditor:alice:{AUDITOR_KEY}"))
    assert keys.identify(APP_KEY) is not None
    assert keys.identify(AUDITOR_KEY).name == "alice"  # type: ignore[union-attr]
    assert keys.identify(APP_KEY + "x") is None
    assert APP_KEY not in repr(vars(keys))


def test_short_keys_and_unknown_roles_are_refused() -> None:
    """A config mistake is a ConfigError saying what to fix."""
    with pytest.raises(ConfigError, match="at least 16"):
        Keys(parse("app:short"))
    with pytest.raises(ConfigError, match="unknown role"):
        Keys(parse("root:" + "k" * 20))
    with pytest.raises(ConfigError, match="role:key"):
        parse("app:a:b:c")


def test_generated_keys_are_owner_only_and_stable(tmp_path: Path) -> None:
    """First start writes one key per role (0600, in a new 0700 folder, which the signing
    key shares); the next start reads the same keys."""
    folder = tmp_path / "keys"
    first = generated(folder)
    assert stat.S_IMODE((folder / "api-keys").stat().st_mode) == 0o600
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    assert {role for role, _, _ in first} == {"app", "auditor", "admin"}
    assert generated(folder) == first
    (folder / "api-keys").chmod(0o644)
    with pytest.raises(ConfigError, match="chmod 600"):
        generated(folder)
