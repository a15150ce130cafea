"""A running service with decisions in its ledger, and a logged-in console client.

The service runs on a real loopback port (uvicorn in a thread) over a temporary ledger.
Decisions are made through `POST /v1/supervise` with the caller's own output, so no
primary model is needed: a healthcare answer with a patient's name and SSN (revised,
stored redacted), a finance recommendation (escalated) and a harmless answer (allowed).
The service also answers for `four-eyes` (finance whose escalations need two reviewers).
The service is shared by the module's tests (loading the detectors takes a while); tests
that add records look only at what they added.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx2
import pytest

from api import Service
from api.keys import Keys
from supervisor.providers import Provider
from supervisor.providers.fake import FakeProvider
from supervisor.providers.registry import resolve
from supervisor.settings import Settings
from tests.api.conftest import ADMIN_KEY, APP_KEY, AUDITOR_KEY, KEYS, running

__all__ = ["ADMIN_KEY", "APP_KEY", "AUDITOR_KEY"]  # the console tests import them from here

SSN = "536-22-8765"
PHI = f"Patient John Smith, SSN {SSN}, has diabetes."
ADVICE = "You should put all your savings into Tesla stock"
ARTIFACTS = Path(__file__).resolve().parent.parent / "artifacts"
FOUR_EYES = Path(__file__).resolve().parent / "four-eyes.yaml"  # escalations need 2 reviewers


@dataclass
class Console:
    """The running service and the ids of the decisions made for the tests."""

    url: str
    service: Service
    phi: str
    escalated: str
    allowed: str

    def client(self) -> httpx2.Client:
        return httpx2.Client(base_url=self.url, timeout=60, follow_redirects=True)

    @contextmanager
    def login(self, key: str = AUDITOR_KEY) -> Iterator[httpx2.Client]:
        """A client signed in through the login form, as a browser would be."""
        with self.client() as client:
            form = client.get("/console/login")
            answer = client.post("/console/login", data={
                "key": key, "csrf": token(form.text), "next": "/console/decisions"})
            assert answer.status_code == 200, answer.text
            yield client

    def kinds(self) -> list[str]:
        return [r["kind"] for r in self.service.ledger.records_in_order()]

    def decide(self, output: str, constitution: str) -> str:
        """Supervise `output` as an app would; the new decision's record id."""
        with httpx2.Client(base_url=self.url, timeout=60,
                           headers={"authorization": f"Bearer {APP_KEY}"}) as app:
            return _supervise(app, output, constitution)


def token(html: str) -> str:
    """The CSRF token of the first form on a page."""
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found, "the page has no CSRF token"
    return found.group(1)


def _supervise(client: httpx2.Client, output: str, constitution: str) -> str:
    answer = client.post("/v1/supervise", json={"output": output,
                                                "constitution": constitution})
    assert answer.status_code == 200, answer.text
    return answer.headers["x-supervisor-record-id"]


PRIMARY_ANSWER = "Drink water and rest; see your doctor if it gets worse."


def _primary(ref: str) -> Provider:
    """`fake:primary` answers every prompt with PRIMARY_ANSWER (counting its tokens)."""
    if ref.startswith("fake:"):
        return FakeProvider(lambda request: PRIMARY_ANSWER, name=ref)
    return resolve(ref, timeout=10)


@pytest.fixture(scope="package")
def console(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Console]:
    folder = tmp_path_factory.mktemp("console")
    settings = Settings(ledger=str(folder / "ledger"), primary=("fake:primary",),
                        checkpoint_seconds=3600, deadline_s=600, constitution=str(FOUR_EYES))
    service = Service(settings, keys=Keys(KEYS), warm_primary=False, resolver=_primary)
    with running(service) as served:
        deadline = time.monotonic() + 300
        while service.readiness.parts["detectors"] == "loading":  # loaded before timing
            assert time.monotonic() < deadline, "the detectors did not load"
            time.sleep(0.1)
        assert service.readiness.parts["detectors"] == "ok", service.readiness.parts
        with httpx2.Client(base_url=served.url, timeout=120,
                           headers={"authorization": f"Bearer {APP_KEY}"}) as app:
            yield Console(served.url, service, phi=_supervise(app, PHI, "healthcare"),
                          escalated=_supervise(app, ADVICE, "finance"),
                          allowed=_supervise(app, "Drink water regularly.", "healthcare"))
