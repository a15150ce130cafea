"""Keys and roles: 401 without a valid key, 403 for the wrong role, both header styles."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from api.keys import Binding, Keys, generated, parse
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
    # identify() is Optional; the key was added just above
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


def test_old_format_entries_mean_any_constitution_and_default_limits() -> None:
    """`role:key` and `role:name:key` read as before, unbound: any constitution may be used."""
    entries = parse(f"app:{APP_KEY}, auditor:alice:{AUDITOR_KEY}")
    assert [(e.role, e.name, e.key) for e in entries] == [("app", "", APP_KEY),
                                                          ("auditor", "alice", AUDITOR_KEY)]
    assert all(e.binding == Binding() and not e.binding.given for e in entries)
    caller = Keys(entries).identify(APP_KEY)
    assert caller is not None and caller.may_use("base") and caller.may_use("finance")


def test_options_bind_a_key_to_constitutions_and_limits() -> None:
    """constitutions=, rate= and concurrency= after role:name:key; `none` lifts a limit."""
    (entry,) = parse(f"app:clinic:{APP_KEY}:constitutions=healthcare|base:rate=20/second"
                     ":concurrency=8")
    assert entry.binding == Binding(("healthcare", "base"), "20/second", 8)
    assert entry.line() == (f"app:clinic:{APP_KEY}:constitutions=healthcare|base"
                            ":rate=20/second:concurrency=8")
    caller = Keys([entry]).identify(APP_KEY)
    assert caller is not None and caller.may_use("base") and not caller.may_use("finance")
    (lifted,) = parse(f"app:batch:{APP_KEY}:rate=none:concurrency=none")
    assert lifted.binding == Binding((), "", 0)


MALFORMED = [  # (entry, what the error must say)
    (f"app:{APP_KEY}:constitutions=finance", "needs a name"),
    (f"app:clinic:{APP_KEY}:rate_limit=5/second", "unknown option 'rate_limit'"),
    (f"app:clinic:{APP_KEY}:rate=fast", "rate='fast' is not a rate limit"),
    (f"app:clinic:{APP_KEY}:concurrency=0", "concurrency='0' is not a whole number above 0"),
    (f"app:clinic:{APP_KEY}:constitutions=", "constitutions= has no value"),
    (f"app:clinic:{APP_KEY}:rate=1/second:rate=2/second", "rate= is given twice"),
    (f"app:clinic:{APP_KEY}:rate=1/second:oops", "'oops' is not an option"),
]


@pytest.mark.parametrize(("entry", "problem"), MALFORMED)
def test_a_malformed_entry_is_a_config_error_naming_it_and_the_fix(entry: str,
                                                                   problem: str) -> None:
    """The error names the item (by position, role and name, never its secret), what is
    wrong, and the format with an example."""
    with pytest.raises(ConfigError) as raised:
        parse(f"auditor:alice:{AUDITOR_KEY},{entry}")
    message = str(raised.value)
    assert problem in message
    assert "SUPERVISOR_API_KEYS item 2 (app:" in message
    assert "e.g. app:clinic:KEY:constitutions=healthcare|base" in message
    assert APP_KEY not in message


def test_keys_sharing_a_name_must_share_their_options() -> None:
    """A rotated key keeps its app's binding; two different bindings under one name are refused."""
    other = "another-key-0123456789abcdef"
    Keys(parse(f"app:clinic:{APP_KEY}:rate=5/second,app:clinic:{other}:rate=5/second"))
    with pytest.raises(ConfigError, match="two API keys are named 'clinic'"):
        Keys(parse(f"app:clinic:{APP_KEY}:rate=5/second,app:clinic:{other}"))


def test_the_key_file_takes_the_new_format(tmp_path: Path) -> None:
    """An owner-only key file may bind its keys too; a mistake names the file."""
    folder = tmp_path / "keys"
    generated(folder)
    path = folder / "api-keys"
    path.write_text(f"app:clinic:{APP_KEY}:constitutions=healthcare\nadmin:ops:{ADMIN_KEY}\n")
    (entry, _) = generated(folder)
    assert entry.binding.constitutions == ("healthcare",)
    path.write_text(f"app:clinic:{APP_KEY}:rate=soon\n")
    with pytest.raises(ConfigError, match=f"{path} item 1"):
        generated(folder)


def test_no_route_depends_on_a_sync_callable() -> None:
    """FastAPI runs a sync dependency in its thread pool: one thread hop per request for a
    lookup. Every dependency of every API route (sub-dependencies too) is async."""
    import inspect

    from fastapi.dependencies.models import Dependant
    from fastapi.routing import APIRoute

    from api import console
    from api.routes import audit, chat, messages, moderation, proposals, supervise, system

    def sync_calls(dependant: Dependant) -> list[str]:
        found = []
        for sub in dependant.dependencies:
            call = sub.call
            # a security scheme is an object whose __call__ is the dependency
            target = call if inspect.isfunction(call) else type(call).__call__
            if not (inspect.iscoroutinefunction(target) or inspect.isasyncgenfunction(target)):
                found.append(getattr(call, "__name__", repr(call)))
            found += sync_calls(sub)
        return found

    routers = [m.router for m in (audit, chat, messages, moderation, proposals, supervise,
                                  system)] + [console.router]
    routes = [r for router in routers for r in router.routes if isinstance(r, APIRoute)]
    assert routes
    assert {r.path: sync_calls(r.dependant) for r in routes if sync_calls(r.dependant)} == {}
