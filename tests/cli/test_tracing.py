"""`supervisor check` traces like the service when SUPERVISOR_TRACING=otlp."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.fakes.otlp_collector import collecting

CONSTITUTION = """\
id: traced-cli
version: 1.0.0
principles:
  - id: no-guarantees
    statement: The answer promises no investment returns.
    action: block
    citations: [t]
    checks:
      - pattern: {phrases: [guaranteed returns]}
"""


def test_check_exports_its_spans_before_the_process_exits(tmp_path: Path) -> None:
    """A short-lived `check` flushes its spans to the OTLP endpoint; no text is sent."""
    path = tmp_path / "c.yaml"
    path.write_text(CONSTITUTION)
    answer = "These guaranteed returns are yours."
    with collecting() as collector:
        env = {**os.environ, "SUPERVISOR_TRACING": "otlp",
               "OTEL_EXPORTER_OTLP_ENDPOINT": collector.url,
               "SUPERVISOR_LEDGER": str(tmp_path / "ledger")}
        done = subprocess.run([sys.executable, "-m", "supervisor.cli", "check", "-c",
                               str(path), answer], env=env, capture_output=True, text=True,
                              check=False)
        spans, raw = collector.spans(), collector.raw
    assert done.returncode == 11, done.stderr  # blocked
    names = {s.name for s in spans}
    assert {"supervisor.supervise", "supervisor.ledger.append"} <= names, names
    assert answer.encode() not in raw
