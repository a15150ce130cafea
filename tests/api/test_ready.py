"""The service loads its models at start-up; a request that arrives first waits for those
loads, not within its deadline, and the service logs one `ready` line when it is ready."""

from __future__ import annotations

import time

import pytest
from structlog.testing import capture_logs

from tests.api.conftest import Serve

pytestmark = pytest.mark.slow  # the shipped constitutions' real models load


def test_a_request_during_warm_up_is_checked_within_its_deadline_then_ready_is_logged(
        serve: Serve) -> None:
    """A supervision sent as the service starts (spaCy, the encoder and the exemplars still
    loading) is decided, not an error, under a 3 s deadline; then one `ready` line."""
    with capture_logs() as logs, serve(deadline_s=3) as served:
        reply = served.client().post("/v1/supervise", json={
            "output": "Bread needs flour, water, salt and yeast.", "constitution": "base"})
        waited = time.monotonic() + 600  # model loads on a shared machine
        while not any(line["event"] == "ready" for line in logs):
            assert time.monotonic() < waited, "no `ready` line was logged"
            time.sleep(0.2)
        assert served.client(None).get("/readyz").status_code == 200
    assert reply.status_code == 200, reply.text
    decision = reply.json()
    assert decision["action"] != "error", decision["reason"]
    ready = [line for line in logs if line["event"] == "ready"]
    assert len(ready) == 1 and ready[0]["seconds"] > 0
