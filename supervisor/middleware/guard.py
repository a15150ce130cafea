"""The Guard: what every SDK wrapper and the Anthropic middleware share.

One constitution's Supervisor, the ledger its decisions go to, the context stamped on
every record, and the rule for a withheld answer (`on_block`): raise
`supervisor.OutputBlocked`, or answer with the constitution's own refusal or holding
message. The Supervisor runs on the portal's loop (see `portal`), so the same Guard
serves sync and async clients alike.

Per-request context (a user or conversation id known only at call time) is given with
`request_context(...)`, a context-variable scope read on the calling thread or task.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections import OrderedDict
from collections.abc import Coroutine, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path
from typing import Any, Literal, TypeVar

from supervisor.constitution import Constitution, load_constitution
from supervisor.decision import Decision
from supervisor.errors import ConfigError, OutputBlocked
from supervisor.middleware.portal import Portal, portal
from supervisor.pipeline import DecisionLog, Supervisor
from supervisor.providers import Provider

T = TypeVar("T")
OnBlock = Literal["raise", "replace"]
SEEN_PROMPTS = 2048

_scope: ContextVar[Mapping[str, str] | None] = ContextVar("supervisor_request_context",
                                                         default=None)
_ledgers: dict[str, DecisionLog] = {}
_ledgers_lock: asyncio.Lock | None = None


@contextmanager
def request_context(**values: str) -> Iterator[None]:
    """Add `values` (e.g. user="u-17", conversation="c-9") to the ledger records of every
    supervised call made inside the block, on top of the wrapper's own `context`."""
    _check_context(values)
    token = _scope.set({**(_scope.get() or {}), **values})
    try:
        yield
    finally:
        _scope.reset(token)


class Guard:
    """Supervision for one wrapped client or middleware; see the module docstring."""

    def __init__(
        self,
        constitution: str | Path | Constitution,
        *,
        supervisor: str | Provider | None = None,
        context: Mapping[str, str] | None = None,
        on_block: OnBlock = "raise",
        ledger: DecisionLog | str | None = None,
    ) -> None:
        if on_block not in ("raise", "replace"):
            raise ConfigError(f"on_block={on_block!r}: use 'raise' (OutputBlocked) or "
                              "'replace' (answer with the constitution's refusal text)")
        self.constitution = (constitution if isinstance(constitution, Constitution)
                             else load_constitution(constitution))
        if isinstance(supervisor, str):
            from supervisor.providers.registry import resolve

            self.supervisor: Provider | None = resolve(supervisor)
        else:
            self.supervisor = supervisor
        self.context = dict(context or {})
        _check_context(self.context)
        self.on_block: OnBlock = on_block
        self.portal: Portal = portal()
        self._ledger = ledger
        self._supervisor: Supervisor | None = None
        self._seen: OrderedDict[str, Decision] = OrderedDict()

    # -- running on the portal ------------------------------------------------------------

    def call(self, coro: Coroutine[Any, Any, T]) -> T:
        """Run a supervision coroutine for a sync client."""
        return self.portal.run(coro)

    async def acall(self, coro: Coroutine[Any, Any, T]) -> T:
        """Run a supervision coroutine for an async client, from the caller's loop."""
        return await self.portal.run_async(coro)

    def context_now(self) -> dict[str, str]:
        """The wrapper's context with the caller's `request_context` scope on top."""
        return {**self.context, **(_scope.get() or {})}

    @property
    def screens_input(self) -> bool:
        """Whether the constitution has input-stage principles (prompts are checked)."""
        return bool(self.constitution.stage("input"))

    # -- the two stages (coroutines for the portal's loop) -----------------------------

    async def screen(self, prompt: str, context: Mapping[str, str], *,
                     remember: bool = False) -> Decision:
        """The input stage for one user message. With `remember`, a text already screened
        by this Guard (an earlier turn resent as history) reuses that decision."""
        key = hashlib.sha256(prompt.encode()).hexdigest()  # never keep raw prompts around
        if remember and key in self._seen:
            self._seen.move_to_end(key)
            return self._seen[key]
        supervisor = await self._ready()
        decision = await supervisor.check_input(prompt, context=context)
        self._seen[key] = decision
        while len(self._seen) > SEEN_PROMPTS:
            self._seen.popitem(last=False)
        return decision

    async def review(self, answer: str, *, prompt: str, context: Mapping[str, str],
                     inbound: Decision | None) -> Decision:
        """The output stage for one answer; recorded, linked to the input decision."""
        supervisor = await self._ready()
        return await supervisor.check_output(answer, prompt=prompt, context=context,
                                             input_decision=inbound)

    def release(self, decision: Decision) -> str:
        """The text the caller may see, or OutputBlocked when `on_block` is "raise"."""
        if decision.released:
            return decision.output
        if self.on_block == "raise":
            raise OutputBlocked(decision)
        return decision.output  # the constitution's refusal or escalation message

    async def _ready(self) -> Supervisor:
        if self._supervisor is None:
            ledger = self._ledger
            if ledger is None or isinstance(ledger, str):
                ledger = await _shared_ledger(ledger or "", self.portal)
            self._supervisor = Supervisor(self.constitution, supervisor=self.supervisor,
                                          ledger=ledger)
        return self._supervisor


async def _shared_ledger(target: str, home: Portal) -> DecisionLog:
    """One Ledger per target in the process (opened on the portal's loop, closed at exit)."""
    global _ledgers_lock  # noqa: PLW0603 (created on the portal's loop, on first use)
    from supervisor.ledger import open_ledger
    from supervisor.settings import current

    key = target or current().ledger
    if _ledgers_lock is None:
        _ledgers_lock = asyncio.Lock()
    async with _ledgers_lock:
        if key not in _ledgers:
            ledger = await open_ledger(key)
            _ledgers[key] = ledger
            home.on_close(ledger.close)
        return _ledgers[key]


def _check_context(values: Mapping[str, Any]) -> None:
    bad = [k for k, v in values.items() if not isinstance(k, str) or not isinstance(v, str)]
    if bad:
        raise ConfigError(f"context values must be strings; fix {', '.join(map(str, bad))} "
                          "(e.g. context={'app': 'clinic', 'user': 'u-17'})")
