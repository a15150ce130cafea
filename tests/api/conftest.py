"""The service on a real loopback port (uvicorn in a thread), with keys for every role.

`serve(...)` builds a Service over a temporary ledger; primary models named `fake:...`
come from the test's own FakeProviders, every other reference resolves as in production
(so `openai:...` reaches a vendor-shaped fake server through OPENAI_BASE_URL, and
`local:smollm2` runs the embedded model).
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import httpx2
import pytest
import uvicorn

from api import Service, create_app
from api.keys import Keys
from supervisor.providers import Provider
from supervisor.providers.registry import resolve
from supervisor.settings import Settings

APP_KEY = "app-key-0123456789abcdef"
AUDITOR_KEY = "auditor-key-0123456789abcdef"
ADMIN_KEY = "admin-key-0123456789abcdef"
KEYS = [("app", "clinic-app", APP_KEY), ("auditor", "reviewer-1", AUDITOR_KEY),
        ("admin", "ops", ADMIN_KEY)]


@dataclass
class Served:
    """A running service: its base URL, the Service object, and a raw HTTP client."""

    url: str
    service: Service

    def client(self, key: str | None = APP_KEY) -> httpx2.Client:
        headers = {"authorization": f"Bearer {key}"} if key else {}
        return httpx2.Client(base_url=self.url, headers=headers, timeout=60)


@contextmanager
def running(service: Service) -> Iterator[Served]:
    """Run `create_app(service)` on 127.0.0.1:<free port> until the block ends."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(create_app(service), log_level="warning", lifespan="on",
                            access_log=False)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the test server did not start")
        time.sleep(0.02)
    try:
        yield Served(f"http://127.0.0.1:{port}", service)
    finally:
        server.should_exit = True
        thread.join(timeout=30)
        sock.close()


Serve = Callable[..., AbstractContextManager[Served]]


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(ledger=str(tmp_path / "ledger"), primary=("fake:primary",),
                    checkpoint_seconds=3600)


@pytest.fixture
def serve(settings: Settings) -> Serve:
    """`with serve(primaries={...}, judge=..., **settings) as served:`"""

    def build(*, primaries: Mapping[str, Provider] | None = None,
              judge: Provider | None = None, resolver: Callable[[str], Provider] | None = None,
              **changes: Any) -> AbstractContextManager[Served]:
        chosen = dict(primaries or {})

        def resolving(ref: str) -> Provider:
            if ref.startswith("fake:"):
                if ref not in chosen:
                    raise AssertionError(f"the test gave no provider for {ref}")
                return chosen[ref]
            return resolve(ref, timeout=10)

        service = Service(replace(settings, **changes), keys=Keys(KEYS),
                          supervisor_model=judge, resolver=resolver or resolving,
                          warm_primary=False)
        return running(service)

    return build
