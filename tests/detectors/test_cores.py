"""The shared count of cores: a claim spreads over idle cores only, and waits for one."""

from __future__ import annotations

import threading

from supervisor.detectors.cores import Cores


def test_a_spread_claim_takes_every_idle_core_and_a_plain_claim_one() -> None:
    cores = Cores(4)
    assert cores.claim() == 1
    assert cores.claim(spread=True) == 3  # what the first claim left
    assert cores.idle == 0
    cores.release(3)
    cores.release(1)
    assert cores.idle == 4


def test_a_claim_waits_while_every_core_is_held_and_runs_when_one_is_released() -> None:
    cores = Cores(1)
    got: list[int] = []
    with cores.held():
        waiter = threading.Thread(target=lambda: got.append(cores.claim(spread=True)))
        waiter.start()
        waiter.join(timeout=0.2)
        assert waiter.is_alive() and got == []  # nothing idle: it waits, takes nothing
    waiter.join(timeout=5)
    assert got == [1]


def test_held_hands_the_cores_back_when_the_block_raises() -> None:
    cores = Cores(2)
    try:
        with cores.held(spread=True) as taken:
            assert taken == 2
            raise ValueError("a detector failed mid-pass")
    except ValueError:
        pass
    assert cores.idle == 2
