"""The Service builds one Supervisor per constitution and primary, and requests share it.

On a pattern-only constitution (nothing heavy loads) and a real JSONL ledger.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from api import Service
from api.keys import Keys
from supervisor.constitution import Constitution, load_constitution
from supervisor.decision import Action
from supervisor.ledger import open_ledger
from supervisor.providers import ChatRequest, ChatResponse
from supervisor.providers.fake import FakeProvider
from supervisor.settings import Settings

CONSTITUTION = """\
id: shared
version: 1.0.0
defaults: {max_revisions: 1, on_error: block, store_text: full}
principles:
  - id: no-bombs
    statement: The answer gives no instructions for building bombs.
    action: block
    citations: [t]
    checks:
      - pattern: {phrases: [pipe bomb]}
  - id: no-passwords
    statement: The answer repeats no password.
    action: revise
    citations: [t]
    checks:
      - pattern: {regex: ['password\\s*[:=]']}
    remedy: {append: "Change your password."}
"""


def _constitution(folder: Path) -> Constitution:
    path = folder / "shared.yaml"
    path.write_text(CONSTITUTION)
    return load_constitution(path)


async def _service(tmp_path: Path) -> Service:
    settings = Settings(ledger=str(tmp_path / "ledger"), checkpoint_seconds=3600)
    ledger = await open_ledger(settings=settings)
    return Service(settings, keys=Keys([]), ledger=ledger, warm_primary=False)


async def test_one_supervisor_per_constitution_and_primary(tmp_path: Path) -> None:
    """The same constitution object and primary get the same Supervisor; a reloaded
    constitution (a new object) or another primary gets its own."""
    service = await _service(tmp_path)
    constitution = _constitution(tmp_path)
    first = service.supervisor(constitution)
    assert service.supervisor(constitution) is first
    reloaded = _constitution(tmp_path)
    assert service.supervisor(reloaded) is not first
    assert service.supervisor(reloaded).constitution is reloaded
    primary = FakeProvider(["an answer"])
    with_primary = service.supervisor(constitution, primary=primary)
    assert with_primary is not first and with_primary.primary is primary
    assert service.supervisor(constitution, primary=primary) is with_primary
    await service.ledger.close()


async def test_concurrent_requests_on_a_shared_supervisor_keep_their_own_text(
        tmp_path: Path) -> None:
    """Many moderations at once through one shared Supervisor: each decision is about
    its own text, with its own verdicts and its own record."""
    service = await _service(tmp_path)
    supervisor = service.supervisor(_constitution(tmp_path))
    texts = [f"answer {n}: " + ("here is a pipe bomb" if n % 3 == 0 else
                                 "password: hunter2" if n % 3 == 1 else "all fine")
             for n in range(24)]
    decisions = await asyncio.gather(*(supervisor.moderate(t) for t in texts))
    expected = {0: Action.BLOCK, 1: Action.REVISE, 2: Action.ALLOW}
    for number, (text, decision) in enumerate(zip(texts, decisions, strict=True)):
        assert decision.original == text
        assert decision.action is expected[number % 3]
    assert len({d.record_id for d in decisions}) == len(texts)
    stored = {r["id"]: r for r in service.ledger.records_in_order()}
    for text, decision in zip(texts, decisions, strict=True):
        assert stored[decision.record_id]["body"]["texts"]["original"] == text
    await service.ledger.close()


class LocalPrimary:
    """A primary model with a one-off load, as a local model has; counts both."""

    name = "local:test-model"

    def __init__(self) -> None:
        self.loads = 0
        self.calls = 0

    async def load(self) -> bool:
        self.loads += 1
        return True

    async def complete(self, request: ChatRequest) -> ChatResponse:
        self.calls += 1
        return ChatResponse(text="all fine", model=self.name, provider="local")


async def test_a_local_primary_loads_on_first_use_not_at_start(tmp_path: Path) -> None:
    """A service that only moderates never loads its local primary model; the first
    request that asks the primary for an answer loads it."""
    primary = LocalPrimary()
    settings = Settings(ledger=str(tmp_path / "ledger"), checkpoint_seconds=3600,
                        constitution=str(tmp_path / "shared.yaml"), primary=("local:x",))
    _constitution(tmp_path)
    service = Service(settings, keys=Keys([]), resolver=lambda ref: primary)
    await service.start()
    assert service._warming is not None
    await service._warming  # the start-up loads, in the background
    assert service.readiness.ready
    constitution = service.constitution(None)
    await service.supervisor(constitution).moderate("all fine")
    assert (primary.loads, primary.calls) == (0, 0)
    decision = await service.supervisor(constitution, primary=service.primary("default")
                                        ).supervise(prompt="How are you?")
    assert decision.output == "all fine"
    assert (primary.loads, primary.calls) == (1, 1)
    await service.close()


async def test_a_served_process_freezes_its_heap_once_the_detectors_are_loaded(
        tmp_path: Path) -> None:
    """`Service.configured` (what `supervisor serve` runs) freezes the heap after warming,
    so full collections stop walking the models' objects; a Service built by a program
    that imports the library leaves that program's collector alone."""
    import gc

    settings = Settings(ledger=str(tmp_path / "ledger"), checkpoint_seconds=3600,
                        constitution=str(tmp_path / "shared.yaml"))
    _constitution(tmp_path)
    assert not Service(settings, keys=Keys([])).freeze_heap
    service = Service.configured(settings, keys=Keys([]))
    assert service.freeze_heap
    gc.unfreeze()
    try:
        await service.start()
        assert service._warming is not None
        await service._warming
        assert service.readiness.ready
        assert gc.get_freeze_count() > 0
        await service.close()
    finally:
        gc.unfreeze()  # the test process's own objects go back to the collector
