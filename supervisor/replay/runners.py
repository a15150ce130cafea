"""Where replay chunks run: a local process pool, or a Ray cluster.

Both run the same `replay_chunk` on the same chunks and hand back the results in chunk
order, so a replay gives the same figures wherever it ran. The local pool starts its
processes with `spawn` (no state forked from a caller that holds threads or a ledger);
one worker runs in a thread of this process instead. Ray is optional
(`pip install 'constitutional-supervisor[replay]'`) and imported only when asked for; its
workers need this package installed where they run (and, for `semantic` checks, the
constitution's exemplar files at the same path), and read their own API keys.
"""

from __future__ import annotations

import multiprocessing
import os
import socket
from collections.abc import Sequence
from concurrent.futures import Executor, ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Protocol

from supervisor.errors import ConfigError
from supervisor.replay.work import Job, Replayed, replay_chunk


class Runner(Protocol):
    """Runs jobs and returns their outcomes in job order."""

    @property
    def name(self) -> str:
        """Where the work ran, for the report and the ledger record."""
        ...

    def run(self, jobs: Sequence[Job]) -> list[list[Replayed]]:
        """Every job's outcomes, in the jobs' order."""
        ...


@dataclass(frozen=True, slots=True)
class Local:
    """A pool of `workers` processes on the local host (default: one per core); with one
    worker, a thread of this process."""

    workers: int = 0

    @property
    def size(self) -> int:
        return self.workers or os.cpu_count() or 1

    @property
    def name(self) -> str:
        return f"local ({self.size} {'worker' if self.size == 1 else 'workers'})"

    def run(self, jobs: Sequence[Job]) -> list[list[Replayed]]:
        pool: Executor = ThreadPoolExecutor(1) if self.size == 1 else ProcessPoolExecutor(
            min(self.size, len(jobs)) or 1, mp_context=multiprocessing.get_context("spawn"))
        with pool:
            return list(pool.map(replay_chunk, jobs))


@dataclass(frozen=True, slots=True)
class Ray:
    """Ray tasks on the cluster at `address` (`local` starts one on the local host, `auto`
    finds a running one). A Ray already initialised in this process is used as it is."""

    address: str

    @property
    def name(self) -> str:
        return f"ray ({self.address})"

    def run(self, jobs: Sequence[Job]) -> list[list[Replayed]]:
        ray = _ray()
        started = not ray.is_initialized()
        if started:
            options: dict[str, Any] = {"log_to_driver": False}
            if self.address == "local":
                options["include_dashboard"] = False
            _reachable(self.address)
            try:
                ray.init(address=self.address, **options)
            except (ConnectionError, ValueError, RuntimeError) as exc:
                raise ConfigError(f"cannot reach a Ray cluster at {self.address!r} ({exc}); "
                                  "give its address (HOST:PORT or ray://HOST:10001), 'auto' "
                                  "for the one on the local host, or 'local' to start one"
                                  ) from None
        try:
            task = ray.remote(num_cpus=1)(replay_chunk)
            results: list[list[Replayed]] = ray.get([task.remote(job) for job in jobs])
            return results
        finally:
            if started:
                ray.shutdown()


def _reachable(address: str, timeout_s: float = 5.0) -> None:
    """Fail fast on a HOST:PORT nobody listens on (Ray itself retries for minutes)."""
    host, sep, port = address.removeprefix("ray://").rpartition(":")
    if not sep or not port.isdigit():
        return  # `auto`, `local`: Ray finds or starts the instance itself
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=timeout_s).close()
    except OSError as exc:
        raise ConfigError(f"cannot reach a Ray cluster at {address!r} ({exc}); give its "
                          "address (HOST:PORT or ray://HOST:10001), 'auto' for the one on "
                          "this machine, or 'local' to start one") from None


def _ray() -> Any:
    try:
        import ray
    except ImportError:
        raise ConfigError("--ray needs the ray package: pip install "
                          "'constitutional-supervisor[replay]'") from None
    return ray
