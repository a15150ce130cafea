"""The Service: the object graph every route uses, built once per app.

It holds the settings, the ledger, the API keys, the constitutions the service answers
for, the supervisor (judge) model, the primary models named by requests (resolved once
and shared, so their circuit breakers see every call), and the metrics. Tests build it
from fakes; `supervisor serve` builds it from the environment (`Service.configured`).

Constitutions are named by id only over HTTP: the shipped ones and the configured
default (which may be a file path). A request cannot make the server read a file.
Which version of each is active is the ledger's to say (`api.activation`): loading at
start appends a `constitution` record, and a changed version becomes active only when
a second person approves its proposal (or through the loud break-glass reload).

Models load at start-up, in the background (`_warm`): Presidio and spaCy, the encoder
and each constitution's exemplar matrices, a local judge; a remote default primary is
called once. A local primary model loads on the first request that asks it for an
answer: moderation never does, and the model is a few hundred MiB held. A request that
arrives before its loads end waits for the same loads (supervisor.loading) before its
deadline starts, so its SUPERVISOR_DEADLINE is never spent on them. When everything is
loaded the service logs one line, `ready`, with the seconds it took.

Once the detectors are loaded, a served process freezes its heap (`freeze_heap`): the
models leave millions of objects that live as long as the process, and every full
garbage collection walked them all and stopped every request while it ran
(docs/performance.md, "Garbage collection pauses").
"""

from __future__ import annotations

import asyncio
import gc
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import structlog

from api.activation import Activation, Person, Reloaded
from api.errors import ApiError
from api.keys import Keys, configured_keys
from api.metrics import Metrics
from supervisor.constitution import Constitution
from supervisor.deprecation import renamed
from supervisor.detectors import preload
from supervisor.errors import ConfigError
from supervisor.ledger import Ledger, open_ledger
from supervisor.loading import Loadable
from supervisor.pipeline import Supervisor
from supervisor.providers import ChatRequest, Message, Provider
from supervisor.providers.local import SHIPPED
from supervisor.providers.registry import refs
from supervisor.settings import Settings, current

log = structlog.get_logger("api.service")
Resolver = Callable[[str], Provider]
DEFAULT_MODEL = "default"

PRIMARIES = 32  # primary models kept resolved (each with its breaker); oldest dropped
SUPERVISORS = 64  # Supervisors kept per (constitution, primary); oldest dropped


def _normal(ref: str) -> str:
    vendor, colon, model = ref.strip().partition(":")
    return f"{vendor.lower()}:{model.strip()}" if colon else ref.strip()


def _freeze_heap() -> None:
    """Collect once, then move every object now alive out of the collector's reach.

    What is alive once the detectors are loaded (spaCy's and Presidio's objects, the
    encoder, the constitutions) lives until the process ends; frozen, a full collection
    walks only what requests made since, so it no longer stops the event loop and every
    worker thread for as long. Only for a server's own process: `gc.freeze` is
    process-wide, and a library must not impose it on the program that imports it.
    """
    gc.collect()
    gc.freeze()
    log.info("heap_frozen", objects=gc.get_freeze_count())


@dataclass
class Readiness:
    """What /readyz reports: each part and whether it is ready."""

    parts: dict[str, str] = field(default_factory=lambda: {
        "ledger": "opening", "constitutions": "loading", "detectors": "loading",
        "primary": "loading"})

    @property
    def ready(self) -> bool:
        return all(v == "ok" for v in self.parts.values())


class Service:
    """Settings, ledger, keys, constitutions and models for one app."""

    def __init__(self, settings: Settings, *, keys: Keys, ledger: Ledger | None = None,
                 supervisor_model: Provider | None = None, resolver: Resolver | None = None,
                 warm_primary: bool = True, judge: Provider | None = None,
                 freeze_heap: bool = False) -> None:
        self.settings = settings
        self.keys = keys
        self._ledger = ledger
        # the supervisor model (`supervisor` is the method that builds a Supervisor)
        self.supervisor_model = renamed("Service", "judge", judge, "supervisor_model",
                                        supervisor_model)
        self.resolver = resolver or self._resolve
        self.warm_primary = warm_primary
        self.freeze_heap = freeze_heap  # the process is a server's own (see the docstring)
        self.metrics = Metrics()
        self.readiness = Readiness()
        self.constitutions: dict[str, Constitution] = {}
        self.default_constitution = ""
        self._primaries: dict[str, Provider] = {}
        # (id(constitution), id(primary)) -> the objects (so the ids stay theirs), Supervisor
        self._supervisors: dict[tuple[int, int], tuple[object, object, Supervisor]] = {}
        self._checkpoints: asyncio.Task[None] | None = None
        self._following: asyncio.Task[None] | None = None
        self.activation = Activation(self)
        self._warming: asyncio.Task[None] | None = None
        self._owns_ledger = ledger is None
        self._started = time.perf_counter()

    @classmethod
    def configured(cls, settings: Settings | None = None, *, keys: Keys | None = None
                   ) -> Service:
        """The service as the environment describes it (keys from SUPERVISOR_API_KEYS, or
        the generated owner-only key file, unless the caller already read them)."""
        settings = settings or current()
        keys = keys or Keys(configured_keys(settings))
        model = None
        if settings.supervisor:
            from supervisor.providers.registry import resolve

            model = resolve(settings.supervisor, timeout=settings.call_timeout_s)
        return cls(settings, keys=keys, supervisor_model=model, freeze_heap=True)

    # -- life cycle -------------------------------------------------------------------

    async def start(self) -> None:
        """Open the ledger, load and record the constitutions, then warm up in the background."""
        self._started = time.perf_counter()
        if self._ledger is None:
            self._ledger = await open_ledger(settings=self.settings)
        self.readiness.parts["ledger"] = "ok"
        await self.activation.start()
        for constitution in self.constitutions.values():
            await asyncio.to_thread(preload, constitution)
        self._checkpoints = asyncio.create_task(self.ledger.checkpoint_loop())
        self._following = asyncio.create_task(self.activation.follow_loop())
        self._warming = asyncio.create_task(self._warm())

    async def close(self) -> None:
        """Stop background work, then flush and checkpoint the ledger."""
        for task in (self._warming, self._following, self._checkpoints):
            if task is not None:
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)
        if self._ledger is not None and self._owns_ledger:
            await self._ledger.close()

    @property
    def ledger(self) -> Ledger:
        if self._ledger is None:
            raise ApiError(503, "the service is starting; the ledger is not open yet",
                           kind="ledger_error")
        return self._ledger

    async def reload(self, *, caller: Person, break_glass: bool = False,
                     reason: str = "") -> Reloaded:
        """Propose every constitution whose file changed (break-glass: activate it now)."""
        return await self.activation.reload(caller=caller, break_glass=break_glass,
                                            reason=reason)

    async def _warm(self) -> None:
        """Load Presidio, the embedding model and exemplars now; call a remote primary once.

        Through `Supervisor.load`, the loads a request awaits before its deadline starts:
        one arriving meanwhile waits for these same loads, never starts its own.
        """
        try:
            for constitution in self.constitutions.values():
                await Supervisor(constitution, supervisor=self.supervisor_model).load()
                # local detectors only (a first pass through spaCy and the encoder, with no
                # deadline to spend): warming up must not pay for a judge call
                checks = Supervisor(constitution, deadline_s=600)
                await checks.assess("A short warm-up answer.")
            if self.freeze_heap:
                _freeze_heap()
            self.readiness.parts["detectors"] = "ok"
            primary = self.primary(DEFAULT_MODEL) if self.warm_primary else None
            if isinstance(primary, Loadable):
                # a local primary loads on its first use (a chat or supervise request
                # without an answer; its load is not counted against the deadline), not
                # here: a service used for moderation would hold it for nothing
                log.info("primary_loads_on_first_use", model=primary.name)
            elif primary is not None:
                await primary.complete(ChatRequest(messages=(Message("user", "Hi"),),
                                                   max_tokens=1))
            self.readiness.parts["primary"] = "ok"
            log.info("ready", seconds=round(time.perf_counter() - self._started, 1),
                     constitutions=sorted(self.constitutions))
        except Exception as exc:  # readiness reports it; requests still get clear errors
            failed = "detectors" if self.readiness.parts["detectors"] != "ok" else "primary"
            self.readiness.parts[failed] = f"failed: {type(exc).__name__}: {exc}"
            log.error("warm_up_failed", part=failed, error=str(exc))

    # -- per request ------------------------------------------------------------------

    def constitution(self, ref: str | None) -> Constitution:
        """A loaded constitution by id (None or empty: the default); 404 names the ids."""
        chosen = ref or self.default_constitution
        found = self.constitutions.get(chosen)
        if found is None:
            raise ApiError(404, f"no constitution {chosen!r}; this service answers for: "
                           f"{', '.join(sorted(self.constitutions))}",
                           param="constitution", code="constitution_not_found")
        return found

    def primary(self, ref: str) -> Provider:
        """The primary model for a reference (`default`: SUPERVISOR_PRIMARY_MODEL), shared.

        Keyed by the normalised references, so `LOCAL:smollm2` and `local:smollm2` share one
        provider and its circuit breaker. A request may name any vendor's model, but a
        local model only by its shipped name or as configured: like constitutions, a
        request cannot make the server read a file.
        """
        chosen = self.settings.primary if ref == DEFAULT_MODEL else refs(ref)
        key = ",".join(_normal(r) for r in chosen)
        if ref != DEFAULT_MODEL:
            configured = {_normal(r) for r in self.settings.primary}
            for one in key.split(","):
                vendor, _, model = one.partition(":")
                if vendor == "local" and model not in SHIPPED and one not in configured:
                    raise ConfigError(f"model {one!r}: a request names a local model by its "
                                      f"shipped name ({', '.join(f'local:{s}' for s in SHIPPED)})"
                                      "; a GGUF path is configured with SUPERVISOR_PRIMARY_MODEL")
        found = self._primaries.pop(key, None) or self.resolver(key)
        self._primaries[key] = found  # most recently used last
        while len(self._primaries) > PRIMARIES:
            self._primaries.pop(next(iter(self._primaries)))
        return found

    def supervisor(self, constitution: Constitution, *,
                   primary: Provider | None = None) -> Supervisor:
        """The Supervisor of a constitution and primary model, built once and shared.

        A Supervisor keeps no per-request state, and keeps what it works out per stage
        (which detector checks which principle, its provenance, that its models are
        loaded), so every request of a constitution reuses that work. A reloaded
        constitution is a new object and gets a Supervisor of its own.
        """
        key = (id(constitution), id(primary))
        found = self._supervisors.get(key)
        if found is not None:
            return found[2]
        made = Supervisor(constitution, supervisor=self.supervisor_model, primary=primary,
                          ledger=self.ledger,
                          deadline_s=self.settings.deadline_s,
                          judge_token_cap=self.settings.judge_max_tokens)
        self._supervisors[key] = (constitution, primary, made)
        while len(self._supervisors) > SUPERVISORS:
            self._supervisors.pop(next(iter(self._supervisors)))
        return made

    def _resolve(self, ref: str) -> Provider:
        from supervisor.providers.registry import resolve

        return resolve(ref, timeout=self.settings.call_timeout_s)

