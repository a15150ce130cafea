"""Drop-in supervision for apps that already use the official OpenAI or Anthropic client.

One line around the client an app already has, and every answer is checked against the
constitution and recorded in the ledger before the app sees it:

    client = supervised(openai.OpenAI(), constitution="healthcare",
                        context={"app": "clinic-assistant"})
    reply = client.chat.completions.create(model=..., messages=...)   # a ChatCompletion

The wrapper holds the client and never patches the SDK. OpenAI clients are wrapped at
`chat.completions.create` and `responses.create` (see `supervisor.middleware.openai`);
Anthropic clients get `AnthropicSupervisorMiddleware` through the SDK's own
`middleware=` hook (see `supervisor.middleware.anthropic`). Streams are held until the
whole answer is verified, then replayed in the SDK's own chunk types. A withheld answer
raises `supervisor.OutputBlocked`, or with on_block="replace" comes back as the SDK type
carrying the constitution's refusal text. Vendor SDKs are imported only when used.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, overload

from supervisor.constitution import Constitution
from supervisor.errors import ConfigError
from supervisor.middleware.guard import Guard, OnBlock, request_context
from supervisor.pipeline import DecisionLog
from supervisor.providers import Provider

if TYPE_CHECKING:
    import anthropic
    import openai

    from supervisor.middleware.anthropic import AnthropicSupervisorMiddleware

# Typed as the client given: the wrapper answers the same calls with the same types.


@overload
def supervised(client: openai.OpenAI, *, constitution: str | Path | Constitution,
               supervisor: str | Provider | None = None,
               context: Mapping[str, str] | None = None, on_block: OnBlock = "raise",
               ledger: DecisionLog | str | None = None) -> openai.OpenAI: ...
@overload
def supervised(client: openai.AsyncOpenAI, *, constitution: str | Path | Constitution,
               supervisor: str | Provider | None = None,
               context: Mapping[str, str] | None = None, on_block: OnBlock = "raise",
               ledger: DecisionLog | str | None = None) -> openai.AsyncOpenAI: ...
@overload
def supervised(client: anthropic.Anthropic, *, constitution: str | Path | Constitution,
               supervisor: str | Provider | None = None,
               context: Mapping[str, str] | None = None, on_block: OnBlock = "raise",
               ledger: DecisionLog | str | None = None) -> anthropic.Anthropic: ...
@overload
def supervised(client: anthropic.AsyncAnthropic, *, constitution: str | Path | Constitution,
               supervisor: str | Provider | None = None,
               context: Mapping[str, str] | None = None, on_block: OnBlock = "raise",
               ledger: DecisionLog | str | None = None) -> anthropic.AsyncAnthropic: ...
def supervised(client: Any, *, constitution: str | Path | Constitution,
               supervisor: str | Provider | None = None,
               context: Mapping[str, str] | None = None, on_block: OnBlock = "raise",
               ledger: DecisionLog | str | None = None) -> Any:
    """Wrap an OpenAI or Anthropic client (sync or async) so every answer is supervised.

    `constitution`: a shipped id, a YAML path or a Constitution. `supervisor`: the
    supervisor model, which judges principles and rewrites answers, as a reference
    (`anthropic:claude-haiku-4-5`, `local:smollm2`, ...) or a Provider; None checks with
    the local detectors only. `context` (app, user, conversation
    ids) goes into every ledger record; `request_context(...)` adds per-call values.
    `ledger`: a DecisionLog, a ledger target (directory or postgresql:// URL), or None
    for the one the settings name (SUPERVISOR_LEDGER, default audit_logs/).
    """
    guard = Guard(constitution, supervisor=supervisor, context=context, on_block=on_block,
                  ledger=ledger)
    vendor = type(client).__module__.split(".", 1)[0]
    if vendor == "openai":
        import openai

        if isinstance(client, openai.OpenAI | openai.AsyncOpenAI):
            from supervisor.middleware.openai import SupervisedOpenAI

            return SupervisedOpenAI(client, guard)
    if vendor == "anthropic":
        import anthropic

        if isinstance(client, anthropic.Anthropic | anthropic.AsyncAnthropic):
            from supervisor.middleware.anthropic import SupervisedAnthropic

            return SupervisedAnthropic(client, guard)
    raise ConfigError(
        f"supervised() wraps openai.OpenAI, openai.AsyncOpenAI, anthropic.Anthropic or "
        f"anthropic.AsyncAnthropic; got {type(client).__module__}.{type(client).__name__}. "
        "For anything else, call Supervisor.check_output on the answer yourself.")


def __getattr__(name: str) -> Any:
    """`AnthropicSupervisorMiddleware` imports the Anthropic SDK, so only when asked for."""
    if name == "AnthropicSupervisorMiddleware":
        from supervisor.middleware.anthropic import AnthropicSupervisorMiddleware

        return AnthropicSupervisorMiddleware
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["AnthropicSupervisorMiddleware", "Guard", "request_context", "supervised"]
