"""One chunk of replay work, the same function in a local process and in a Ray task.

A `Job` carries everything a worker needs and nothing it cannot pickle: the target
constitution, the supervisor model references (providers are built in the worker, which
reads its own API keys) and the exchanges. A worker builds its Supervisor once and keeps
it for every later chunk it is handed, so detector models load once per process. Nothing
is recorded: the Supervisor has no ledger.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass

from supervisor.constitution import Constitution
from supervisor.decision import Decision
from supervisor.ledger.export import fired
from supervisor.pipeline import Supervisor
from supervisor.replay.exchanges import Replayable


@dataclass(frozen=True, slots=True)
class Job:
    """A chunk of exchanges to re-decide under one constitution."""

    constitution: Constitution
    exchanges: tuple[Replayable, ...]
    supervisor: tuple[str, ...] = ()
    deadline_s: float = 30.0
    call_timeout_s: float = 20.0


@dataclass(frozen=True, slots=True)
class Replayed:
    """One exchange decided before (as recorded) and after (under the target)."""

    record_id: str
    seq: int
    before: str
    after: str
    before_fired: tuple[str, ...]
    after_fired: tuple[str, ...]
    unevaluated: tuple[str, ...] = ()
    reason: str = ""

    @property
    def flipped(self) -> bool:
        return self.before != self.after


_BUILT: dict[tuple[str, tuple[str, ...]], Supervisor] = {}


def replay_chunk(job: Job) -> list[Replayed]:
    """Re-decide a chunk of exchanges; results in the chunk's order."""
    supervisor = _supervisor(job)
    return asyncio.run(_replay(supervisor, job.exchanges))


def _supervisor(job: Job) -> Supervisor:
    key = (job.constitution.sha256, job.supervisor)
    if key not in _BUILT:
        judge = None
        if job.supervisor:
            from supervisor.providers.registry import resolve

            judge = resolve(job.supervisor, timeout=job.call_timeout_s)
        _BUILT[key] = Supervisor(job.constitution, supervisor=judge, deadline_s=job.deadline_s)
    return _BUILT[key]


async def _replay(supervisor: Supervisor, exchanges: Sequence[Replayable]) -> list[Replayed]:
    outcomes = []
    for exchange in exchanges:
        if exchange.stage == "input":
            decision = await supervisor.check_input(exchange.text)
        else:
            decision = await supervisor.check_output(exchange.text, prompt=exchange.prompt)
        outcomes.append(_outcome(exchange, decision))
    return outcomes


def _outcome(exchange: Replayable, decision: Decision) -> Replayed:
    after = fired({"violated": list(decision.violated),
                   "revisions": [{"principles": list(r.principles)}
                                 for r in decision.revisions]})
    return Replayed(exchange.record_id, exchange.seq, exchange.action, str(decision.action),
                   exchange.fired, tuple(after), decision.unevaluated,
                   decision.reason if decision.action == "error" else "")
