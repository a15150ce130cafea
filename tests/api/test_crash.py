"""A SIGKILL under load loses no decision whose response was sent; the ledger verifies after.

The real `supervisor serve` runs as a subprocess; 16 client threads moderate texts and
keep every record id they were answered with; the server is killed mid-load (no shutdown
hook runs), restarted on the same ledger, and every acknowledged id must be there.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx2
import pytest

from tests.api.conftest import APP_KEY, AUDITOR_KEY
from tests.ports import free_port

CLIENTS = 16
KILL_AFTER = 120  # acknowledged decisions before the kill


def _start(env: dict[str, str], port: int) -> subprocess.Popen[bytes]:
    server = subprocess.Popen([sys.executable, "-m", "supervisor.cli", "serve", "--port",
                               str(port), "--log-level", "warning"], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            if httpx2.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return server
        except httpx2.TransportError:
            time.sleep(0.2)
    server.kill()
    raise RuntimeError("supervisor serve did not start")


@pytest.mark.slow
def test_sigkill_loses_no_acknowledged_decision(tmp_path: Path) -> None:
    """Every record id a client received is in the ledger after a SIGKILL and restart."""
    env = {**os.environ, "SUPERVISOR_LEDGER": str(tmp_path / "ledger"),
           "SUPERVISOR_API_KEYS": f"app:{APP_KEY},auditor:{AUDITOR_KEY}",
           "SUPERVISOR_CHECKPOINT_EVERY": "50", "HF_HUB_OFFLINE": "1"}
    port = free_port()
    server = _start(env, port)
    acknowledged: list[str] = []
    lock = threading.Lock()
    stop = threading.Event()
    enough = threading.Event()  # KILL_AFTER answers acknowledged: time to kill

    def client(number: int) -> None:
        with httpx2.Client(base_url=f"http://127.0.0.1:{port}", timeout=30,
                           headers={"authorization": f"Bearer {APP_KEY}"}) as http:
            turn = 0
            while not stop.is_set():
                turn += 1
                try:
                    response = http.post("/v1/moderations", json={
                        "input": f"Client {number} asks question {turn} about sleep."})
                except httpx2.TransportError:
                    return  # the server is gone
                if response.status_code == 200:
                    with lock:
                        acknowledged.append(response.headers["x-supervisor-record-id"])
                        if len(acknowledged) >= KILL_AFTER:
                            enough.set()

    threads = [threading.Thread(target=client, args=(n,)) for n in range(CLIENTS)]
    for thread in threads:
        thread.start()
    enough.wait(timeout=300)  # a guard, not a measurement
    server.send_signal(signal.SIGKILL)
    server.wait()
    stop.set()
    for thread in threads:
        thread.join()
    assert len(acknowledged) >= KILL_AFTER, "the load never reached the kill point"

    server = _start(env, port)
    try:
        with httpx2.Client(base_url=f"http://127.0.0.1:{port}", timeout=60,
                           headers={"authorization": f"Bearer {AUDITOR_KEY}"}) as auditor:
            stored = auditor.get("/v1/audit/records", params={"kind": "decision",
                                                              "limit": 500}).json()
            report = auditor.get("/v1/audit/verify").json()
    finally:
        server.terminate()
        server.wait(timeout=60)
    ids = {r["id"] for r in stored["records"]}
    missing = [a for a in acknowledged if a not in ids]
    assert not missing, f"{len(missing)} acknowledged decisions were lost"
    assert report["ok"], report
    verify = subprocess.run([sys.executable, "-m", "supervisor.cli", "audit", "verify"],
                            env=env, capture_output=True, text=True, check=False)
    assert verify.returncode == 0, verify.stdout + verify.stderr
