"""API keys and roles: who may call what.

Three roles: `app` (moderate, supervise, the proxies), `auditor` (the audit routes and the
console), `admin` (both, plus constitution reload). Keys come from
`SUPERVISOR_API_KEYS="role:key,role:name:key"` or, for `supervisor serve` with nothing
configured, from a file of generated keys kept owner-only beside the ledger's signing key.
Only their sha256 is held in memory, and a presented key is compared against every
stored hash in constant time, so neither timing nor a memory dump gives a key away.

A key's `name` (given, or `role-` plus the first 8 hex digits of its hash) is what the
ledger records as the actor of a review, an export or a record read, and the app a
decision made with it is recorded under.

An entry may bind its key (see `Binding`) with options after `role:name:key`, each
`option=value`, colon-separated:

    app:clinic:KEY:constitutions=healthcare|base:rate=20/second:concurrency=8

`constitutions` lists the constitution ids the key may use (the first is its default),
`rate` is a rate limit in the `limits` notation (`20/second`, `3/minute;100/hour`) and
`concurrency` the requests it may have in flight; `none` lifts a limit for this key. An
entry without options (`role:key`, `role:name:key`) may use any constitution
under the service's default limits (SUPERVISOR_RATE_LIMIT, SUPERVISOR_CONCURRENCY_LIMIT).
Keys sharing a name (a key being rotated) must share their options: they are one app.

`configured` also says where the keys came from and whether this start generated them:
`supervisor serve` shows the secrets only then (once, to the person who started it);
later starts and keys from the environment show names and roles, never a secret.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from limits import parse_many

from supervisor.errors import ConfigError
from supervisor.ledger.signing import publish_owner_only
from supervisor.settings import Settings

Role = Literal["app", "auditor", "admin"]
ROLES: tuple[Role, ...] = ("app", "auditor", "admin")
KEYS_FILE = "api-keys"


OPTIONS = ("constitutions", "rate", "concurrency")
EXAMPLE = "app:clinic:KEY:constitutions=healthcare|base:rate=20/second:concurrency=8"
UNLIMITED = "none"


@dataclass(frozen=True, slots=True)
class Binding:
    """What a key's entry says beyond its role: the constitutions it may use (empty: any)
    and its own limits (None: the service's default; "" or 0: no limit)."""

    constitutions: tuple[str, ...] = ()
    rate: str | None = None
    concurrency: int | None = None

    @property
    def given(self) -> bool:
        """The entry has options: its key names its app, which a caller cannot rename."""
        return bool(self.constitutions) or self.rate is not None or self.concurrency is not None


@dataclass(frozen=True, slots=True)
class Caller:
    """Who a request comes from: the key's name (its app), role and binding."""

    name: str
    role: Role
    binding: Binding = Binding()

    def may(self, role: Role) -> bool:
        """Admin may do anything; other roles only their own routes."""
        return self.role in ("admin", role)

    def may_use(self, constitution: str) -> bool:
        """A key bound to constitutions may use only those; an unbound key any."""
        return not self.binding.constitutions or constitution in self.binding.constitutions


@dataclass(frozen=True, slots=True)
class KeyEntry:
    """One configured key. Unpacks as (role, name, key), as entries did before bindings."""

    role: str
    name: str
    key: str
    binding: Binding = Binding()

    def __iter__(self) -> Iterator[str]:
        return iter((self.role, self.name, self.key))

    def line(self) -> str:
        """The entry as written in SUPERVISOR_API_KEYS or the key file."""
        b = self.binding
        options = [f"constitutions={'|'.join(b.constitutions)}"] if b.constitutions else []
        if b.rate is not None:
            options.append(f"rate={b.rate or UNLIMITED}")
        if b.concurrency is not None:
            options.append(f"concurrency={b.concurrency or UNLIMITED}")
        return ":".join([self.role, *([self.name] if self.name else []), self.key, *options])


@dataclass(frozen=True, slots=True)
class _Entry:
    digest: bytes
    caller: Caller


class Keys:
    """The configured keys, held as hashes."""

    def __init__(self, entries: Iterable[KeyEntry | tuple[str, str, str]] = ()) -> None:
        self._entries: list[_Entry] = []
        for entry in entries:
            if isinstance(entry, KeyEntry):
                self.add(entry.role, entry.key, name=entry.name, binding=entry.binding)
            else:
                role, name, key = entry
                self.add(role, key, name=name)

    def add(self, role: str, key: str, *, name: str = "", binding: Binding = Binding()
            ) -> Caller:
        if role not in ROLES:
            raise ConfigError(f"unknown role {role!r} for an API key; use one of "
                              f"{', '.join(ROLES)}")
        if len(key) < 16:
            raise ConfigError(f"the {role} key {name or ''} is too short: API keys need at "
                              "least 16 characters (generate one with `python -c 'import "
                              "secrets; print(secrets.token_urlsafe(32))'`)")
        digest = _digest(key)
        caller = Caller(name or f"{role}-{digest.hex()[:8]}", role, binding)
        for other in self._entries:
            if other.caller.name == caller.name and other.caller != caller:
                raise ConfigError(f"two API keys are named {caller.name!r} with different "
                                  "roles or options; keys sharing a name are one app's "
                                  "(a key being rotated): give them the same role and "
                                  "options, or different names")
        self._entries.append(_Entry(digest, caller))
        return caller

    def apps(self) -> frozenset[str]:
        """The names of the configured keys: the apps decisions are recorded under."""
        return frozenset(e.caller.name for e in self._entries)

    def identify(self, presented: str) -> Caller | None:
        """The caller holding `presented`, or None; every entry is compared, in constant time."""
        digest = _digest(presented)
        found: Caller | None = None
        for entry in self._entries:
            if hmac.compare_digest(entry.digest, digest):
                found = entry.caller
        return found


def parse(value: str, *, where: str = "SUPERVISOR_API_KEYS") -> list[KeyEntry]:
    """`role:key` or `role:name:key[:option=value...]` items, comma-separated."""
    items: list[KeyEntry] = []
    for position, raw in enumerate((r for r in value.split(",") if r.strip()), start=1):
        items.append(_entry(raw.strip(), where, position))
    return items


def _entry(item: str, where: str, position: int) -> KeyEntry:
    """One item; a mistake names the item by position, role and name, never its secret."""
    parts = [p.strip() for p in item.split(":")]
    first = next((i for i, p in enumerate(parts) if i >= 2 and _is_option(p)), len(parts))
    heads, options = parts[:first], parts[first:]
    shown = {2: f"{parts[0]}:…", 3: f"{parts[0]}:{parts[1]}:…"}.get(len(heads), "…")

    def wrong(problem: str) -> ConfigError:
        return ConfigError(f"{where} item {position} ({shown}): {problem}; items are "
                           "role:key or role:name:key[:option=value...], comma-separated, "
                           f"e.g. {EXAMPLE}")

    if len(heads) > 3 and "=" in heads[3]:
        shown = f"{parts[0]}:{parts[1]}:…"
        raise wrong(f"unknown option {heads[3].partition('=')[0]!r}; the options are "
                    f"{', '.join(o + '=' for o in OPTIONS)}")
    if len(heads) not in (2, 3):
        raise wrong(f"{len(heads)} fields where role:key or role:name:key was expected")
    if options and len(heads) == 2:
        raise wrong("a key with options needs a name, the app it is recorded under "
                    "(role:name:key:options)")
    for option in options:
        if not _is_option(option):
            raise wrong(f"{option.partition('=')[0]!r} is not an option; the options are "
                        f"{', '.join(o + '=' for o in OPTIONS)}, after role:name:key")
    role, name, key = (heads[0], "", heads[1]) if len(heads) == 2 else heads
    return KeyEntry(role, name, key, _binding(options, wrong))


def _is_option(part: str) -> bool:
    return "=" in part and part.partition("=")[0].strip() in OPTIONS


def _binding(options: list[str], wrong: Callable[[str], ConfigError]) -> Binding:
    found: dict[str, str] = {}
    for option in options:
        name, _, value = (s.strip() for s in option.partition("="))
        if name in found:
            raise wrong(f"{name}= is given twice; give it once")
        if not value:
            raise wrong(f"{name}= has no value")
        found[name] = value
    constitutions = tuple(c.strip() for c in found.get("constitutions", "").split("|")
                          if c.strip())
    if "constitutions" in found and not constitutions:
        raise wrong("constitutions= names no constitution; write constitutions=finance|base")
    rate = found.get("rate")
    if rate is not None:
        rate = "" if rate.lower() == UNLIMITED else rate
        if rate and not valid_rate(rate):
            raise wrong(f"rate={rate!r} is not a rate limit; write e.g. rate=20/second or "
                        f"rate=3/minute;100/hour (or rate={UNLIMITED})")
    concurrency: int | None = None
    if "concurrency" in found:
        raw = found["concurrency"]
        if raw.lower() == UNLIMITED:
            concurrency = 0
        elif raw.isdigit() and int(raw) > 0:
            concurrency = int(raw)
        else:
            raise wrong(f"concurrency={raw!r} is not a whole number above 0; write e.g. "
                        f"concurrency=8 (or concurrency={UNLIMITED})")
    return Binding(constitutions, rate, concurrency)


def valid_rate(text: str) -> bool:
    """A rate limit in the `limits` notation (`20/second`, `3 per minute;100/hour`)."""
    try:
        parse_many(text)
    except ValueError:
        return False
    return True


@dataclass(frozen=True, slots=True)
class Configured:
    """The keys (role, name, key), where they are kept, and whether this call made them."""

    keys: tuple[KeyEntry, ...]
    where: str  # "SUPERVISOR_API_KEYS" or the key file's path
    created: bool = False


def configured(settings: Settings) -> Configured:
    """SUPERVISOR_API_KEYS when set, else the owner-only key file (generated if missing)."""
    if settings.api_keys:
        return Configured(tuple(parse(settings.api_keys)), "SUPERVISOR_API_KEYS")
    folder = settings.signing_key_dir
    keys, created = _stored(folder)
    return Configured(tuple(keys), str(folder / KEYS_FILE), created)


def configured_keys(settings: Settings) -> list[KeyEntry]:
    """SUPERVISOR_API_KEYS when set, else the generated owner-only key file."""
    return list(configured(settings).keys)


def generated(folder: Path) -> list[KeyEntry]:
    """The keys stored in `folder`, generating one per role (owner-only) on first use."""
    return _stored(folder)[0]


def _stored(folder: Path) -> tuple[list[KeyEntry], bool]:
    """(the keys in `folder`, True if this call generated them)."""
    path = folder / KEYS_FILE
    if not path.exists():
        items = [KeyEntry(role, f"{role}-local", f"sk-sup-{role}-{secrets.token_urlsafe(24)}")
                 for role in ROLES]
        text = "".join(f"{item.line()}\n" for item in items)
        if publish_owner_only(path, text.encode("utf-8")):
            return items, True
    mode = path.stat().st_mode & 0o777
    if mode & 0o077:
        raise ConfigError(f"{path} is readable by others (mode {mode:o}); run "
                          f"`chmod 600 {path}`")
    return parse(",".join(path.read_text(encoding="utf-8").split()), where=str(path)), False


def _digest(key: str) -> bytes:
    return hashlib.sha256(key.encode("utf-8")).digest()
