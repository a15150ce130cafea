"""Model references (`anthropic:MODEL`, `openai:MODEL`, `local:smollm2`, ...) to Providers.

A model is named by a string so that swapping vendors is a configuration change: the
CLI's `--primary` / `--supervisor`, the environment's `SUPERVISOR_PRIMARY_MODEL` /
`SUPERVISOR_SUPERVISOR_MODEL` and the HTTP app all end here. Several references (a
list, or one comma-separated string) make a fallback chain, tried in order. Whatever
was asked for comes back wrapped in `Resilient`, so every model call has a timeout,
bounded retries and a circuit breaker. Vendor SDKs are imported only when a reference
names them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

from supervisor.errors import ConfigError
from supervisor.providers import Provider
from supervisor.providers.resilience import Resilient, RetryPolicy
from supervisor.settings import Settings

FORMS = ("anthropic:MODEL (e.g. anthropic:claude-haiku-4-5), openai:MODEL (e.g. "
         "openai:gpt-4o-mini; OPENAI_BASE_URL for any OpenAI-compatible server), "
         "local:smollm2, local:/path/to/model.gguf")


@dataclass(frozen=True, slots=True)
class Models:
    """The two roles a model can play; None when that role has no model configured."""

    primary: Provider | None
    supervisor: Provider | None


def refs(value: str | Sequence[str]) -> tuple[str, ...]:
    """Split references given as one comma-separated string or a list of them."""
    items = [value] if isinstance(value, str) else list(value)
    return tuple(part.strip() for item in items for part in item.split(",") if part.strip())


def build(ref: str, *, timeout: float = 20.0) -> Provider:
    """One Provider for one reference, without the resilience wrapper."""
    vendor, sep, model = ref.strip().partition(":")
    vendor = vendor.lower()
    if not sep or not model.strip():
        raise ConfigError(f"model reference {ref!r} is not VENDOR:MODEL; use one of: {FORMS}")
    model = model.strip()
    if vendor == "anthropic":
        from supervisor.providers.anthropic import AnthropicProvider

        return AnthropicProvider(model, timeout=timeout)
    if vendor == "openai":
        from supervisor.providers.openai import OpenAIProvider

        return OpenAIProvider(model, timeout=timeout)
    if vendor == "local":
        from supervisor.providers.local import LocalProvider

        return LocalProvider(model)
    if vendor == "fake":
        raise ConfigError(f"{ref!r}: the fake provider answers from a script and has none "
                          "here; build supervisor.providers.fake.FakeProvider in code, or use "
                          f"one of: {FORMS}")
    raise ConfigError(f"unknown model vendor {vendor!r} in {ref!r}; use one of: {FORMS}")


def resolve(ref: str | Sequence[str], *, timeout: float = 20.0,
            policy: RetryPolicy | None = None) -> Resilient:
    """A Provider for one reference or a fallback chain, with retries and breakers.

    `timeout` bounds each vendor call (the SDK's timeout and ours: a network call can
    hang). A local model gets one attempt per call and no per-call timeout: its
    generation is computation in this process, not a call that may hang, it cannot be
    stopped midway anyway (supervisor.providers.local), and on a busy two-core machine
    an answer of a few hundred tokens can take longer than a vendor's 20 s. The
    supervision's deadline (SUPERVISOR_DEADLINE) bounds it instead, and its load comes
    before that deadline starts (`Resilient.load`).
    """
    chosen = refs(ref)
    if not chosen:
        raise ConfigError(f"no model given; use one of: {FORMS}")
    base = replace(policy or RetryPolicy(), timeout=timeout)
    providers = [build(r, timeout=timeout) for r in chosen]
    policies = [replace(base, attempts=1, timeout=None) if p.name.startswith("local:")
                else base for p in providers]
    return Resilient(providers, policy=base, policies=policies)


def providers_from(settings: Settings, *, primary: Sequence[str] = (),
                   supervisor: Sequence[str] = (), need_primary: bool = True) -> Models:
    """The primary and supervisor models: CLI values first, else the settings' defaults.

    An empty `supervisor` with no SUPERVISOR_SUPERVISOR_MODEL leaves the supervisor None
    (local checks only); the primary is resolved only when `need_primary` (the caller
    has no answer yet).
    """
    judge_refs = refs(supervisor) or settings.supervisor
    primary_refs = (refs(primary) or settings.primary) if need_primary else ()
    timeout = settings.call_timeout_s
    return Models(primary=resolve(primary_refs, timeout=timeout) if primary_refs else None,
                  supervisor=resolve(judge_refs, timeout=timeout) if judge_refs else None)
