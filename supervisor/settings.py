"""Configuration from the environment: the only module that reads `SUPERVISOR_*` variables.

Everything else takes keyword arguments with named defaults; the CLI and the HTTP app
read a Settings once and pass its values down. The vendor SDKs' own variables
(`OPENAI_API_KEY`, `ANTHROPIC_BASE_URL`, ...) are left to the SDKs, which read them.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, cast

from supervisor.errors import ConfigError

PROJECT_DIR = Path(__file__).resolve().parent.parent
DATA_FOLDER = "constitutional-supervisor"  # under $XDG_DATA_HOME, else ~/.local/share
DEFAULT_LEDGER = "audit_logs"
DEFAULT_PRIMARY = "local:smollm2"
SIGNING_KEY = "ledger_ed25519.pem"  # supervisor.ledger.signing.PRIVATE_NAME
ModerationOnError = Literal["flag", "unavailable"]
MODERATION_ON_ERROR = ("flag", "unavailable")
Tracing = Literal["off", "otlp"]
TRACING = ("off", "otlp")


def _models(value: str) -> tuple[str, ...]:
    return tuple(m.strip() for m in value.split(",") if m.strip())


def _number(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(name, "")
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"{name}={raw!r} is not a number; set it to e.g. {default}") from None
    if value <= 0:
        raise ConfigError(f"{name}={raw!r} must be greater than zero")
    return value


def _unless_none(raw: str) -> str:
    """A limit's text; `none` (any case) or empty means no limit."""
    return "" if raw.strip().lower() in ("", "none") else raw.strip()


def _count(env: Mapping[str, str], name: str, default: int) -> int:
    """A whole number >= 0 (0 or `none`: no limit)."""
    raw = env.get(name, "").strip()
    if not raw:
        return default
    if raw.lower() == "none":
        return 0
    if not raw.isdigit():
        raise ConfigError(f"{name}={raw!r} is not a whole number; set it to e.g. {default}, "
                          "or none for no limit")
    return int(raw)


def _moderation_on_error(env: Mapping[str, str]) -> ModerationOnError:
    raw = env.get("SUPERVISOR_MODERATION_ON_ERROR", "").strip().lower() or "flag"
    if raw not in MODERATION_ON_ERROR:
        raise ConfigError(f"SUPERVISOR_MODERATION_ON_ERROR={raw!r}: use one of "
                          f"{', '.join(MODERATION_ON_ERROR)} (flag: answer flagged: true; "
                          "unavailable: answer 503)")
    return cast(ModerationOnError, raw)


def _tracing(env: Mapping[str, str]) -> Tracing:
    raw = env.get("SUPERVISOR_TRACING", "").strip().lower() or "off"
    if raw not in TRACING:
        raise ConfigError(f"SUPERVISOR_TRACING={raw!r}: use one of {', '.join(TRACING)} "
                          "(otlp: spans to OTEL_EXPORTER_OTLP_ENDPOINT over OTLP/HTTP)")
    return cast(Tracing, raw)


@dataclass(frozen=True, slots=True)
class Settings:
    """The process's configuration; docs/configuration.md describes each variable."""

    ledger: str = DEFAULT_LEDGER
    constitution: str = "base"
    primary: tuple[str, ...] = (DEFAULT_PRIMARY,)
    supervisor: tuple[str, ...] = ()
    prices: str = str(Path(__file__).with_name("prices.yaml"))
    api_keys: str = ""
    deadline_s: float = 30.0
    call_timeout_s: float = 20.0
    judge_max_tokens: int = 16_384  # the cap on a judge call's output (judge.verdict_tokens)
    checkpoint_every: int = 1000
    checkpoint_seconds: float = 60.0
    ledger_timeout_s: float = 10.0
    key_dir: str = ""
    max_body_bytes: int = 1 << 20
    log_level: str = "info"
    moderation_on_error: ModerationOnError = "flag"  # what /v1/moderations says on `error`
    tracing: Tracing = "off"  # otlp: OpenTelemetry spans by OTLP/HTTP (supervisor.tracing)
    rate_limit: str = ""  # per API key, in the `limits` notation ("20/second"); "": none
    concurrency_limit: int = 64  # requests in flight per API key and process; 0: none
    rate_limit_storage: str = "memory://"  # a `limits` storage URI (shared: redis://...)
    master_key: str = ""  # the file wrapping data keys of `store_text: encrypted` texts
    data_home: str = ""  # XDG_DATA_HOME; "": ~/.local/share

    @property
    def signing_key_dir(self) -> Path:
        """Where the ledger's Ed25519 key lives: SUPERVISOR_KEY_DIR, else beside a file
        ledger, else (a database ledger) in the user's data folder, never in the package.

        A key made by an earlier version in the source tree's `.keys` is still used while
        the data folder has none, so a running deployment keeps signing with its key.
        """
        if self.key_dir:
            return Path(self.key_dir)
        if "://" not in self.ledger:
            return Path(self.ledger) / "keys"
        home = Path(self.data_home) if self.data_home else Path.home() / ".local" / "share"
        keys, legacy = home / DATA_FOLDER / "keys", PROJECT_DIR / ".keys"
        if not (keys / SIGNING_KEY).exists() and (legacy / SIGNING_KEY).exists():
            return legacy
        return keys

    @property
    def master_key_file(self) -> Path:
        """SUPERVISOR_MASTER_KEY, else `master.key` beside the signing key (made on first use)."""
        return Path(self.master_key) if self.master_key else self.signing_key_dir / "master.key"


def current(env: Mapping[str, str] | None = None) -> Settings:
    """Read the settings from `env` (default: the process environment)."""
    env = os.environ if env is None else env
    return Settings(
        ledger=env.get("SUPERVISOR_LEDGER") or DEFAULT_LEDGER,
        constitution=env.get("SUPERVISOR_CONSTITUTION") or "base",
        primary=_models(env.get("SUPERVISOR_PRIMARY_MODEL", "")) or (DEFAULT_PRIMARY,),
        supervisor=_models(env.get("SUPERVISOR_SUPERVISOR_MODEL", "")),
        prices=env.get("SUPERVISOR_PRICES") or str(Path(__file__).with_name("prices.yaml")),
        api_keys=env.get("SUPERVISOR_API_KEYS", ""),
        deadline_s=_number(env, "SUPERVISOR_DEADLINE", 30.0),
        call_timeout_s=_number(env, "SUPERVISOR_CALL_TIMEOUT", 20.0),
        judge_max_tokens=int(_number(env, "SUPERVISOR_JUDGE_MAX_TOKENS", 16_384)),
        checkpoint_every=int(_number(env, "SUPERVISOR_CHECKPOINT_EVERY", 1000)),
        checkpoint_seconds=_number(env, "SUPERVISOR_CHECKPOINT_SECONDS", 60.0),
        ledger_timeout_s=_number(env, "SUPERVISOR_LEDGER_TIMEOUT", 10.0),
        key_dir=env.get("SUPERVISOR_KEY_DIR", ""),
        max_body_bytes=int(_number(env, "SUPERVISOR_MAX_BODY_BYTES", float(1 << 20))),
        log_level=env.get("SUPERVISOR_LOG_LEVEL") or "info",
        moderation_on_error=_moderation_on_error(env),
        tracing=_tracing(env),
        rate_limit=_unless_none(env.get("SUPERVISOR_RATE_LIMIT", "")),
        concurrency_limit=_count(env, "SUPERVISOR_CONCURRENCY_LIMIT", 64),
        rate_limit_storage=env.get("SUPERVISOR_RATE_LIMIT_STORAGE") or "memory://",
        master_key=env.get("SUPERVISOR_MASTER_KEY", "").strip(),
        data_home=env.get("XDG_DATA_HOME", "").strip(),
    )
