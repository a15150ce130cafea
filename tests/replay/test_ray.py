"""Replay on a local Ray instance gives what the local pool gives (no network needed)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from supervisor.constitution import load_constitution
from supervisor.replay import Local, Ray, replay
from tests.cli.conftest import Run

ray = pytest.importorskip("ray")
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def local_ray() -> Iterator[None]:
    """A one-CPU Ray instance in this process, started and stopped by the test."""
    ray.init(num_cpus=1, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()


def _records(path: Path) -> list[dict[str, Any]]:
    lines = b"".join(p.read_bytes() for p in sorted(path.glob("ledger-*.jsonl")))
    return [json.loads(line) for line in lines.splitlines()]


def test_ray_tasks_give_the_local_figures(local_ray: None, traffic_ledger: Path,
                                          versions: tuple[Path, Path]) -> None:
    """Chunks of three as Ray tasks: the same flips and counts as one local worker."""
    records, target = _records(traffic_ledger), load_constitution(versions[1])
    on_ray = replay(records, target, runner=Ray("auto"), chunk=3)
    assert on_ray.figures() == replay(records, target, runner=Local(1)).figures()
    assert (on_ray.runner, on_ray.tasks) == ("ray (auto)", 3)
    assert len(on_ray.flips) == 3


def test_the_command_runs_on_ray(local_ray: None, run: Run, traffic_ledger: Path,
                                 versions: tuple[Path, Path]) -> None:
    """`replay --ray` prints the figures `replay` prints locally."""
    local = json.loads(run("replay", "-c", str(versions[1]), "--workers", "1", "--json").out)
    remote = run("replay", "-c", str(versions[1]), "--ray", "auto", "--chunk", "2", "--json")
    assert remote.code == 0, remote.err
    on_ray = json.loads(remote.out)
    assert on_ray["run"]["runner"] == "ray (auto)"
    for key in ("run", "record", "report_sha256"):
        local.pop(key), on_ray.pop(key)
    assert on_ray == local
