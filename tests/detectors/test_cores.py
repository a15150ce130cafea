"""The shared count of cores: each computation holds one, and a claim waits for one."""

from __future__ import annotations

import threading

from supervisor.detectors.cores import Cores


def test_each_claim_takes_one_core_until_none_is_idle() -> None:
    cores = Cores(3)
    cores.claim()
    cores.claim()
    assert cores.idle == 1
    cores.release()
    cores.release()
    assert cores.idle == 3


def test_a_claim_waits_while_every_core_is_held_and_runs_when_one_is_released() -> None:
    cores = Cores(1)
    claimed = threading.Event()

    def claim() -> None:
        cores.claim()
        claimed.set()

    with cores.held():
        waiter = threading.Thread(target=claim)
        waiter.start()
        assert not claimed.wait(timeout=0.2)  # nothing idle: it waits, takes nothing
        assert cores.idle == 0
    assert claimed.wait(timeout=5)
    waiter.join(timeout=5)
    assert cores.idle == 0  # the waiter holds the core the block handed back


def test_held_hands_the_core_back_when_the_block_raises() -> None:
    cores = Cores(2)
    try:
        with cores.held():
            assert cores.idle == 1
            raise ValueError("a detector failed mid-pass")
    except ValueError:
        pass
    assert cores.idle == 2
