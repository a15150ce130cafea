"""API keys and roles: who may call what.

Three roles: `app` (moderate, supervise, the proxies), `auditor` (the audit routes and the
console), `admin` (both, plus constitution reload). Keys come from
`SUPERVISOR_API_KEYS="role:key,role:name:key"` or, for `supervisor serve` with nothing
configured, from a file of generated keys kept owner-only beside the ledger's signing key.
Only their sha256 is held in memory, and a presented key is compared against every
stored hash in constant time, so neither timing nor a memory dump gives a key away.

A key's `name` (given, or `role-` plus the first 8 hex digits of its hash) is what the
ledger records as the actor of a review, an export or a record read.

`configured` also says where the keys came from and whether this start generated them:
`supervisor serve` shows the secrets only then (once, to the person who started it);
later starts and keys from the environment show names and roles, never a secret.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from supervisor.errors import ConfigError
from supervisor.ledger.signing import publish_owner_only
from supervisor.settings import Settings

Role = Literal["app", "auditor", "admin"]
ROLES: tuple[Role, ...] = ("app", "auditor", "admin")
KEYS_FILE = "api-keys"


@dataclass(frozen=True, slots=True)
class Caller:
    """Who a request comes from: the key's name and role."""

    name: str
    role: Role

    def may(self, role: Role) -> bool:
        """Admin may do anything; other roles only their own routes."""
        return self.role in ("admin", role)


@dataclass(frozen=True, slots=True)
class _Entry:
    digest: bytes
    caller: Caller


class Keys:
    """The configured keys, held as hashes."""

    def __init__(self, entries: Iterable[tuple[str, str, str]] = ()) -> None:
        self._entries: list[_Entry] = []
        for role, name, key in entries:
            self.add(role, key, name=name)

    def add(self, role: str, key: str, *, name: str = "") -> Caller:
        if role not in ROLES:
            raise ConfigError(f"unknown role {role!r} for an API key; use one of "
                              f"{', '.join(ROLES)}")
        if len(key) < 16:
            raise ConfigError(f"the {role} key {name or ''} is too short: API keys need at "
                              "least 16 characters (generate one with `python -c 'import "
                              "secrets; print(secrets.token_urlsafe(32))'`)")
        digest = _digest(key)
        caller = Caller(name or f"{role}-{digest.hex()[:8]}", role)
        self._entries.append(_Entry(digest, caller))
        return caller

    def identify(self, presented: str) -> Caller | None:
        """The caller holding `presented`, or None; every entry is compared, in constant time."""
        digest = _digest(presented)
        found: Caller | None = None
        for entry in self._entries:
            if hmac.compare_digest(entry.digest, digest):
                found = entry.caller
        return found


def parse(value: str) -> list[tuple[str, str, str]]:
    """`role:key` or `role:name:key` items, comma-separated, as (role, name, key)."""
    items: list[tuple[str, str, str]] = []
    for raw in value.split(","):
        item = raw.strip()
        if not item:
            continue
        parts = item.split(":")
        if len(parts) == 2:
            items.append((parts[0].strip(), "", parts[1].strip()))
        elif len(parts) == 3:
            items.append((parts[0].strip(), parts[1].strip(), parts[2].strip()))
        else:
            raise ConfigError("SUPERVISOR_API_KEYS items are role:key or role:name:key, "
                              f"comma-separated; cannot read item {len(items) + 1}")
    return items


@dataclass(frozen=True, slots=True)
class Configured:
    """The keys (role, name, key), where they are kept, and whether this call made them."""

    keys: tuple[tuple[str, str, str], ...]
    where: str  # "SUPERVISOR_API_KEYS" or the key file's path
    created: bool = False


def configured(settings: Settings) -> Configured:
    """SUPERVISOR_API_KEYS when set, else the owner-only key file (generated if missing)."""
    if settings.api_keys:
        return Configured(tuple(parse(settings.api_keys)), "SUPERVISOR_API_KEYS")
    folder = settings.signing_key_dir
    keys, created = _stored(folder)
    return Configured(tuple(keys), str(folder / KEYS_FILE), created)


def configured_keys(settings: Settings) -> list[tuple[str, str, str]]:
    """SUPERVISOR_API_KEYS when set, else the generated owner-only key file."""
    return list(configured(settings).keys)


def generated(folder: Path) -> list[tuple[str, str, str]]:
    """The keys stored in `folder`, generating one per role (owner-only) on first use."""
    return _stored(folder)[0]


def _stored(folder: Path) -> tuple[list[tuple[str, str, str]], bool]:
    """(the keys in `folder`, True if this call generated them)."""
    path = folder / KEYS_FILE
    if not path.exists():
        items: list[tuple[str, str, str]] = [
            (role, f"{role}-local", f"sk-sup-{role}-{secrets.token_urlsafe(24)}")
            for role in ROLES]
        text = "".join(f"{role}:{name}:{key}\n" for role, name, key in items)
        if publish_owner_only(path, text.encode("utf-8")):
            return items, True
    mode = path.stat().st_mode & 0o777
    if mode & 0o077:
        raise ConfigError(f"{path} is readable by others (mode {mode:o}); run "
                          f"`chmod 600 {path}`")
    return parse(",".join(path.read_text(encoding="utf-8").split())), False


def _digest(key: str) -> bytes:
    return hashlib.sha256(key.encode("utf-8")).digest()
