"""Models load once per process, before a supervision's deadline starts (supervisor.loading).

Each slow load below is much longer than the deadline it runs beside, and the checks
after it take microseconds, so the tests pin the order (load, then clock) without
depending on how fast this machine is.
"""

from __future__ import annotations

import asyncio
import hashlib
import textwrap
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from supervisor.constitution import Constitution, Principle, load_constitution
from supervisor.decision import Action
from supervisor.detectors import Detector
from supervisor.detectors.embedding import DIMENSIONS, Encoder, Vectors
from supervisor.detectors.semantic import SemanticDetector
from supervisor.errors import DeadlineExceeded
from supervisor.pipeline import Supervisor
from supervisor.providers import ChatRequest, ChatResponse
from supervisor.providers.fake import FakeProvider
from supervisor.providers.resilience import Resilient, RetryPolicy

LOAD_S = 2.0  # a model's first load on a busy machine, scaled down
DEADLINE_S = 0.5  # far shorter than the load, far longer than the checks after it

SEMANTIC = """\
    id: slow-load
    version: 1.0.0
    principles:
      - id: no-guarantees
        statement: The answer promises no investment returns.
        action: block
        citations: [t]
        checks:
          - semantic: {threshold: 0.99}
        examples:
          - output: This fund is guaranteed to double your money by next year.
            expect: violated
          - output: Past returns do not tell you what a fund will return next.
            expect: compliant
    """
PATTERN = """\
    id: slow-pattern
    version: 1.0.0
    principles:
      - id: no-pipe-bombs
        statement: The answer gives no instructions for building bombs.
        action: block
        citations: [t]
        checks:
          - pattern: {phrases: [pipe bomb]}
    """


def written(folder: Path, yaml: str) -> Constitution:
    path = folder / "constitution.yaml"
    path.write_text(textwrap.dedent(yaml))
    return load_constitution(path)


class SlowEncoder(Encoder):
    """The real Encoder's interface; its first call sleeps as loading the model does, and
    its vectors come from a hash of the text (no model at all)."""

    def __init__(self) -> None:
        super().__init__()
        self.loaded = threading.Event()

    def encode(self, texts: Sequence[str], *, batch_size: int = 32) -> Vectors:
        if not self.loaded.is_set():
            time.sleep(LOAD_S)
            self.loaded.set()
        rows = [np.random.default_rng(int(hashlib.sha256(t.encode()).hexdigest()[:8], 16))
                .standard_normal(DIMENSIONS) for t in texts]
        vectors = np.array(rows, dtype=np.float32).reshape(len(texts), DIMENSIONS)
        return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


class SlowToLoad:
    """A Detector whose model loads in `warm()`, or on its first scan, as PII's does."""

    kind = "pattern"
    version = "slow-to-load"

    def __init__(self, *, fail_first: bool = False) -> None:
        self.loads = 0
        self.fail_first = fail_first
        self._loaded = threading.Event()
        self._lock = threading.Lock()

    def warm(self) -> None:
        with self._lock:
            if self._loaded.is_set():
                return
            time.sleep(LOAD_S / 2)
            self.loads += 1
            if self.fail_first and self.loads == 1:
                raise RuntimeError("the model file is still being copied")
            self._loaded.set()

    def scan(self, principles: Sequence[Principle], *, prompt: str, text: str) -> Any:
        if not self._loaded.is_set():
            self.warm()
        return {}


class SlowToLoadModel(FakeProvider):
    """A local model's provider: it loads on `load()`, or on its first call if not yet."""

    def __init__(self, replies: list[str]) -> None:
        super().__init__(replies, name="local:slow")
        self.loaded = False

    async def load(self) -> bool:
        if self.loaded:
            return False
        await asyncio.sleep(LOAD_S)
        self.loaded = True
        return True

    async def complete(self, request: ChatRequest) -> ChatResponse:
        await self.load()
        return await super().complete(request)


async def test_a_detector_load_longer_than_the_deadline_does_not_spend_it(
        tmp_path: Path) -> None:
    """The real semantic detector, its encoder slow to load: the first supervision waits
    for the load, then checks within its deadline, and says how long the load took."""
    semantic: Detector = SemanticDetector(SlowEncoder()).bind(written(tmp_path, SEMANTIC))
    rules = written(tmp_path, SEMANTIC)
    supervisor = Supervisor(rules, detectors={"semantic": semantic}, deadline_s=DEADLINE_S)
    decision = await supervisor.check_output("Index funds spread your money widely.")
    assert decision.action is not Action.ERROR, decision.reason
    assert dict(decision.timings_ms)["load"] >= LOAD_S * 1000 * 0.9
    again = await supervisor.check_output("Index funds spread your money widely.")
    assert again.action is decision.action and "load" not in dict(again.timings_ms)


async def test_concurrent_first_requests_wait_for_one_shared_load(tmp_path: Path) -> None:
    """Five first requests at once: one load, which none of their deadlines pays for."""
    detector = SlowToLoad()
    rules = written(tmp_path, PATTERN)
    supervisors = [Supervisor(rules, detectors={"pattern": detector}, deadline_s=DEADLINE_S)
                   for _ in range(5)]
    decisions = await asyncio.gather(*(s.check_output("Bake bread at 220 C.")
                                       for s in supervisors))
    assert [d.action for d in decisions] == [Action.ALLOW] * 5
    assert detector.loads == 1


async def test_assess_loads_first_and_names_the_setting_when_checks_run_late(
        tmp_path: Path) -> None:
    """assess (constitution test, eval) also loads before its clock; a check that runs
    late raises DeadlineExceeded naming SUPERVISOR_DEADLINE, not a bare TimeoutError."""
    rules = written(tmp_path, PATTERN)
    detector = SlowToLoad()
    assessed = await Supervisor(rules, detectors={"pattern": detector},
                                deadline_s=DEADLINE_S).assess("Bake bread.")
    assert [v.violated for v in assessed.verdicts] == [False]

    class Stuck(SlowToLoad):
        def scan(self, principles: Sequence[Principle], *, prompt: str, text: str) -> Any:
            time.sleep(LOAD_S / 2)  # the check itself is slow: that is the deadline's job
            return {}

    with pytest.raises(DeadlineExceeded, match="SUPERVISOR_DEADLINE"):
        await Supervisor(rules, detectors={"pattern": Stuck()},
                         deadline_s=DEADLINE_S / 5).assess("Bake bread.")


async def test_a_failed_load_is_tried_again_by_the_next_request(tmp_path: Path) -> None:
    """A load that fails is not remembered as done: the next supervision loads again."""
    detector = SlowToLoad(fail_first=True)
    supervisor = Supervisor(written(tmp_path, PATTERN), detectors={"pattern": detector},
                            deadline_s=DEADLINE_S)
    with pytest.raises(RuntimeError, match="still being copied"):
        await supervisor.check_output("Bake bread.")
    decision = await supervisor.check_output("Bake bread.")
    assert decision.action is Action.ALLOW and detector.loads == 2


async def test_a_local_primary_loads_before_the_deadline_of_its_answer(
        tmp_path: Path) -> None:
    """`supervisor run` on a local model: its load (through the resilience wrapper, with no
    per-call timeout, as the registry builds local models) is not the answer's time."""
    model = SlowToLoadModel(["Knead the dough for ten minutes."])
    primary = Resilient([model], policy=RetryPolicy(attempts=1, timeout=None))
    supervisor = Supervisor(written(tmp_path, PATTERN), primary=primary,
                            detectors={"pattern": SlowToLoad()}, deadline_s=DEADLINE_S)
    decision = await supervisor.supervise(prompt="How long do I knead bread?")
    assert decision.action is Action.ALLOW, decision.reason
    assert decision.output == "Knead the dough for ten minutes." and model.loaded
