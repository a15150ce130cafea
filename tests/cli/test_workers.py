"""`supervisor serve --workers 2`: connections spread over the workers, which are replaced
when they die and stop with the parent.

With uvicorn's shared socket, sixteen connections opened together all went to one worker
(docs/performance.md, "Two workers, one port"); each worker now has a socket of its own.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import httpx2
import pytest

from supervisor.cli import main
from supervisor.cli.workers import hold, run
from supervisor.errors import ConfigError
from tests.api.conftest import APP_KEY
from tests.ports import free_port

CONNECTIONS = 16


def _workers(parent: int) -> set[int]:
    """The serving workers of `parent` (not multiprocessing's resource tracker)."""
    found: set[int] = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            command = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        if int(stat.rsplit(")", 1)[1].split()[1]) == parent and b"spawn_main" in command:
            found.add(int(entry.name))
    return found


def _sockets(pid: int, port: int, state: str = "01") -> int:
    """How many TCP sockets on `port` the process `pid` has open in `state` (from /proc;
    01 established connections, 0A listening)."""
    inodes: set[str] = set()
    for fd in (Path("/proc") / str(pid) / "fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    count = 0
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            local_port = int(fields[1].rsplit(":", 1)[1], 16)
            if local_port == port and fields[3] == state and fields[9] in inodes:
                count += 1
    return count


def _ready(url: str, path: str = "/readyz", times: int = 10) -> None:
    """Until `times` fresh connections in a row answer 200 at `path`: a fresh connection
    lands on either worker, so both have loaded. A guard, not a measurement."""
    deadline = time.monotonic() + 600
    streak = 0
    while time.monotonic() < deadline and streak < times:
        try:
            ok = httpx2.get(f"{url}{path}", timeout=5).status_code == 200
        except httpx2.TransportError:
            ok = False
        streak = streak + 1 if ok else 0
        if not ok:
            time.sleep(0.5)
    assert streak >= times, "the workers never became ready"


async def _burst(url: str, port: int, workers: set[int]) -> dict[int, int]:
    """Moderate through CONNECTIONS keep-alive connections opened at once, as a burst of
    clients (or a proxy's pool) does, and count each worker's share while they are open."""
    limits = httpx2.Limits(max_connections=CONNECTIONS,
                           max_keepalive_connections=CONNECTIONS)
    async with httpx2.AsyncClient(base_url=url, limits=limits, timeout=120,
                                  headers={"authorization": f"Bearer {APP_KEY}"}) as client:
        answers = await asyncio.gather(*(
            client.post("/v1/moderations", json={"input": f"Client {n} asks about sleep."})
            for n in range(CONNECTIONS)))
        assert [a.status_code for a in answers] == [200] * CONNECTIONS
        return {pid: _sockets(pid, port) for pid in workers}


def _gone(pids: set[int]) -> bool:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if not any(Path(f"/proc/{pid}").exists() for pid in pids):
            return True
        time.sleep(0.2)
    return False


@pytest.mark.slow
def test_workers_share_connections_are_replaced_and_stop_with_the_parent(
        tmp_path: Path) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {**os.environ, "SUPERVISOR_LEDGER": str(tmp_path / "ledger"),
           "SUPERVISOR_API_KEYS": f"app:{APP_KEY}", "HF_HUB_OFFLINE": "1"}
    server = subprocess.Popen([sys.executable, "-m", "supervisor.cli", "serve", "--workers",
                               "2", "--port", str(port), "--log-level", "warning"],
                              env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        _ready(url)
        first = _workers(server.pid)
        assert len(first) == 2
        held = asyncio.run(_burst(url, port, first))
        assert sum(held.values()) == CONNECTIONS
        assert all(held.values()), f"connections per worker: {held}"

        killed = min(first)
        os.kill(killed, signal.SIGKILL)
        assert _gone({killed})
        deadline = time.monotonic() + 60
        while len(_workers(server.pid)) < 2 and time.monotonic() < deadline:
            time.sleep(0.2)
        second = _workers(server.pid)
        assert len(second) == 2 and killed not in second
        _ready(url)
        answer = httpx2.post(f"{url}/v1/moderations", json={"input": "Sleep well."},
                             headers={"authorization": f"Bearer {APP_KEY}"}, timeout=60)
        assert answer.status_code == 200

        server.send_signal(signal.SIGTERM)
        assert server.wait(timeout=120) == 0
        assert _gone(second), "a worker outlived its parent's SIGTERM"
    finally:
        if server.poll() is None:
            server.kill()
            server.wait()
    verify = subprocess.run([sys.executable, "-m", "supervisor.cli", "audit", "verify"],
                            env=env, capture_output=True, text=True, check=False)
    assert verify.returncode == 0, verify.stdout + verify.stderr


def test_a_port_in_use_is_refused_before_any_worker_starts(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("SUPERVISOR_LEDGER", str(tmp_path / "ledger"))
    monkeypatch.setenv("SUPERVISOR_API_KEYS", f"app:{APP_KEY}")
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(SystemExit) as exited:
            main(["serve", "--workers", "2", "--port", str(port)])
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert f"cannot serve on 127.0.0.1:{port}" in err and "--port" in err
    assert "Traceback" not in err


def test_a_worker_that_cannot_start_stops_the_service() -> None:
    """A worker whose start-up fails would fail alike in every replacement: the parent
    stops them and returns a failure instead of starting replacements forever."""
    held = hold("127.0.0.1", 0)
    status = run(2, held, {"log_level": "error", "log_config": None},
                 app="tests.cli.no_such_module:create")
    assert status == 1
    assert held.fileno() == -1  # the port is let go


def test_a_ledger_that_cannot_open_is_one_clear_error_before_the_banner(
        tmp_path: Path) -> None:
    """Before, each worker's start-up failed with uvicorn's stack trace of the error."""
    (tmp_path / "file").write_text("not a directory")
    env = {**os.environ, "SUPERVISOR_LEDGER": str(tmp_path / "file" / "ledger"),
           "SUPERVISOR_API_KEYS": f"app:{APP_KEY}", "HF_HUB_OFFLINE": "1"}
    for workers in ("1", "2"):
        done = subprocess.run([sys.executable, "-m", "supervisor.cli", "serve", "--workers",
                               workers, "--port", str(free_port())], env=env,
                              capture_output=True, text=True, timeout=600, check=False)
        assert done.returncode not in (0, 1), done.stderr  # a LedgerError's own code
        assert "cannot open the ledger directory" in done.stderr
        assert "Traceback" not in done.stdout + done.stderr
        assert "Constitutional supervisor on" not in done.stdout


def test_a_rate_limit_storage_it_cannot_use_is_one_clear_error_before_the_banner(
        tmp_path: Path) -> None:
    """Before, with two workers, every worker failed with a stack trace, again and again."""
    env = {**os.environ, "SUPERVISOR_LEDGER": str(tmp_path / "ledger"),
           "SUPERVISOR_RATE_LIMIT": "10/second",
           "SUPERVISOR_RATE_LIMIT_STORAGE": "nosuchstore://127.0.0.1:1",
           "SUPERVISOR_API_KEYS": f"app:{APP_KEY}", "HF_HUB_OFFLINE": "1"}
    for workers in ("1", "2"):
        done = subprocess.run([sys.executable, "-m", "supervisor.cli", "serve", "--workers",
                               workers, "--port", str(free_port())], env=env,
                              capture_output=True, text=True, timeout=600, check=False)
        assert done.returncode not in (0, 1), done.stderr
        assert "SUPERVISOR_RATE_LIMIT_STORAGE='nosuchstore://127.0.0.1:1'" in done.stderr
        assert "Traceback" not in done.stdout + done.stderr
        assert "Constitutional supervisor on" not in done.stdout


def test_a_broken_constitution_is_one_clear_error_before_the_banner(tmp_path: Path) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text("id: [broken\n")
    env = {**os.environ, "SUPERVISOR_LEDGER": str(tmp_path / "ledger"),
           "SUPERVISOR_CONSTITUTION": str(broken),
           "SUPERVISOR_API_KEYS": f"app:{APP_KEY}", "HF_HUB_OFFLINE": "1"}
    done = subprocess.run([sys.executable, "-m", "supervisor.cli", "serve", "--workers", "2",
                           "--port", str(free_port())], env=env, capture_output=True,
                          text=True, timeout=600, check=False)
    assert done.returncode != 0
    assert "not valid YAML" in done.stderr and "Traceback" not in done.stderr


def tiny_app() -> Any:
    """A factory for workers that need no models (the hang test)."""
    from fastapi import FastAPI

    app = FastAPI()

    @app.get("/healthz")
    def healthz() -> dict[str, bool]:
        return {"ok": True}

    return app


def refused_app() -> Any:
    """A factory that refuses its configuration, as `Service.configured` does."""
    raise ConfigError("SUPERVISOR_EXAMPLE='x' is not valid; set it to y")


def crashing_app() -> Any:
    """A factory that fails with an error of no project type."""
    raise RuntimeError("out of file descriptors")


@pytest.mark.parametrize(("factory", "line"), [
    ("refused_app", "error: SUPERVISOR_EXAMPLE='x' is not valid; set it to y"),
    ("crashing_app", "error: a worker failed to start: RuntimeError: out of file descriptors"),
])
def test_an_app_factory_error_stops_the_service_with_one_line(factory: str,
                                                               line: str) -> None:
    """uvicorn lets a factory's error (all but TypeError) out with its stack trace; the
    worker died with exit 1, not uvicorn's start-up failure, so the parent started
    replacements forever (seen with an unreachable rate-limit storage)."""
    code = ("import sys\nfrom supervisor.cli.workers import hold, run\n"
            "sys.exit(run(2, hold('127.0.0.1', 0), {'log_level': 'error', 'log_config': None},"
            f" app='tests.cli.test_workers:{factory}'))")
    done = subprocess.run([sys.executable, "-c", code], cwd=Path(__file__).parents[2],
                          capture_output=True, text=True, timeout=600, check=False)
    assert done.returncode == 1, done.stderr[-2000:]
    assert line in done.stderr.splitlines()
    assert "Traceback" not in done.stderr


def test_a_worker_whose_loop_stops_ticking_is_replaced() -> None:
    """uvicorn's parent killed a worker that missed its pings; ours kills one whose event
    loop has stopped ticking (here: SIGSTOP) and starts another."""
    held = hold("127.0.0.1", 0)
    url = f"http://127.0.0.1:{held.getsockname()[1]}"
    me = os.getpid()
    seen: dict[str, Any] = {}

    def drive() -> None:
        try:
            deadline = time.monotonic() + 300
            while len(_workers(me)) < 2 and time.monotonic() < deadline:
                time.sleep(0.2)
            port = int(url.rsplit(":", 1)[1])
            while time.monotonic() < deadline and not all(
                    _sockets(pid, port, "0A") for pid in _workers(me)):
                time.sleep(0.2)  # uvicorn listens once started, then its loop ticks
            _ready(url, "/healthz", times=1)
            time.sleep(1.5)  # ten ticks' time after the start
            victim = min(_workers(me))
            os.kill(victim, signal.SIGSTOP)
            seen["gone"] = _gone({victim})
            while len(_workers(me)) < 2 and time.monotonic() < deadline:
                time.sleep(0.2)
            seen["now"] = _workers(me)
            seen["victim"] = victim
        finally:
            os.kill(me, signal.SIGTERM)  # ends `run` below

    driver = threading.Thread(target=drive)
    driver.start()
    status = run(2, held, {"log_level": "error", "log_config": None},
                 app="tests.cli.test_workers:tiny_app", hang_s=3)
    driver.join()
    assert status == 0
    assert seen["gone"], "the stopped worker was never killed"
    assert len(seen["now"]) == 2 and seen["victim"] not in seen["now"]
    assert not _workers(me)  # and both stopped with the parent

