"""Health, readiness, metrics, constitutions and the admin's reload."""

from __future__ import annotations

import fcntl
import time
from pathlib import Path

from supervisor.constitution import load_constitution
from tests.api.conftest import ADMIN_KEY, AUDITOR_KEY, Serve


def test_healthz_needs_no_key_and_readyz_reports_each_part(serve: Serve) -> None:
    """/readyz turns 200 once ledger, constitutions and detectors are loaded."""
    with serve() as served:
        client = served.client(None)
        assert client.get("/healthz").json() == {"status": "ok"}
        deadline = time.monotonic() + 600  # model loads on a shared machine
        while (ready := client.get("/readyz")).status_code != 200:
            assert ready.status_code == 503
            assert time.monotonic() < deadline, ready.text
            time.sleep(0.2)
    assert ready.json()["parts"] == {"ledger": "ok", "constitutions": "ok", "detectors": "ok",
                                     "primary": "ok"}


def test_metrics_count_decisions_by_action_and_principle(serve: Serve) -> None:
    """A revised decision shows in the action counter and the principle's violations."""
    with serve() as served:
        served.client().post("/v1/supervise", json={
            "output": "Patient John Smith, SSN 536-22-8193.", "constitution": "healthcare"})
        text = served.client(None).get("/metrics").text
    assert 'supervisor_decisions_total{action="revise",constitution="healthcare",' in text
    assert "supervisor_violations_total{" in text
    assert 'supervisor_stage_seconds_bucket{le="0.001",stage="detectors"}' in text
    assert 'supervisor_http_requests_total{route="POST /v1/supervise",status="200"} 1.0' in text


def test_constitutions_are_listed_with_their_sha256(serve: Serve) -> None:
    """GET /v1/constitutions/{id} gives the resolved content and the hash decisions cite."""
    with serve() as served:
        auditor = served.client(AUDITOR_KEY)
        listed = auditor.get("/v1/constitutions").json()
        one = auditor.get("/v1/constitutions/healthcare").json()
    assert listed["default"] == "base"
    assert {c["id"] for c in listed["data"]} >= {"base", "healthcare", "finance"}
    assert one["sha256"] == load_constitution("healthcare").sha256
    assert one["extends"] and one["content"]["principles"]


def test_activations_are_recorded_once_per_version(serve: Serve) -> None:
    """Start-up records each constitution; a reload with nothing changed records none."""
    with serve() as served:
        admin = served.client(ADMIN_KEY)
        assert admin.post("/v1/constitutions/reload").status_code == 200
        records = admin.get("/v1/audit/records", params={"kind": "constitution"}).json()
    ids = [r["body"]["id"] for r in records["records"]]
    assert sorted(ids) == sorted(set(ids)) and "finance" in ids
    assert {r["body"]["activated_by"] for r in records["records"]} == {"startup"}


def test_readyz_turns_not_ready_while_the_ledger_cannot_append(serve: Serve,
                                                               tmp_path: Path) -> None:
    """A ledger lock held elsewhere (a stuck writer) makes /readyz 503 naming the ledger,
    and it turns ready again once the lock is released, without any traffic."""
    with serve(ledger_timeout_s=1.0) as served:
        client = served.client(None)
        deadline = time.monotonic() + 600  # model loads on a shared machine
        while client.get("/readyz").status_code != 200:
            assert time.monotonic() < deadline
            time.sleep(0.2)
        with (tmp_path / "ledger" / ".lock").open("a") as other:
            fcntl.flock(other.fileno(), fcntl.LOCK_EX)
            try:
                blocked = served.client(AUDITOR_KEY).post("/v1/audit/checkpoint")
                ready = client.get("/readyz")
            finally:
                fcntl.flock(other.fileno(), fcntl.LOCK_UN)
        assert blocked.status_code != 200
        assert ready.status_code == 503
        assert "append" in ready.json()["parts"]["ledger"]
        while (again := client.get("/readyz")).status_code != 200:
            assert time.monotonic() < deadline, again.text
            time.sleep(0.1)
