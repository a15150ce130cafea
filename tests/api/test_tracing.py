"""W3C trace context over HTTP: an app team's `traceparent` is the parent of our supervision."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from supervisor import tracing
from tests.api.conftest import Serve
from tests.fakes.otlp_collector import Collector, collecting

CONSTITUTION = """\
id: traced-http
version: 2.0.0
defaults: {store_text: none}
principles:
  - id: add-disclaimer
    statement: The answer includes the phrase "not advice".
    action: revise
    citations: [t]
    checks:
      - pattern: {absent: ['not advice']}
    remedy: {append: "This is not advice."}
"""

TRACE_ID = "0af7651916cd43dd8448eb211c80319c"
PARENT_ID = "b7ad6b7169203331"
ANSWER = "Quokka funds always triple, buy now."


@pytest.fixture
def traced(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Collector]:
    """Tracing on, exporting to a collector on loopback; off again after the test."""
    with collecting() as collector:
        monkeypatch.delenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", raising=False)
        monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", collector.url)
        (tmp_path / "traced-http.yaml").write_text(CONSTITUTION)
        try:
            yield collector
        finally:
            tracing.disable()


def supervise(serve: Serve, tmp_path: Path, headers: dict[str, str]) -> str:
    """One `/v1/supervise` of a given answer with tracing on; returns its record id."""
    with serve(constitution=str(tmp_path / "traced-http.yaml"), tracing="otlp") as served:
        response = served.client().post("/v1/supervise", headers=headers,
                                        json={"prompt": "Buy?", "output": ANSWER})
    assert response.status_code == 200, response.text
    assert response.json()["action"] == "revise"
    assert tracing.flush()
    return str(response.json()["record_id"])


def test_incoming_traceparent_parents_the_supervision(serve: Serve, traced: Collector,
                                                      tmp_path: Path) -> None:
    """The root `supervise` span joins the caller's trace, under the caller's span."""
    record = supervise(serve, tmp_path, {"traceparent": f"00-{TRACE_ID}-{PARENT_ID}-01"})
    root = next(s for s in traced.spans() if s.name == "supervisor.supervise"
                and s.attributes.get("supervisor.record_id") == record)
    assert (root.trace_id, root.parent_span_id) == (TRACE_ID, PARENT_ID)
    assert root.attributes["supervisor.constitution.id"] == "traced-http"
    inside = [s for s in traced.spans() if s.trace_id == TRACE_ID]
    assert {s.name for s in inside} == {"supervisor.supervise", "supervisor.stage",
                                        "supervisor.detector", "supervisor.revision",
                                        "supervisor.ledger.append"}
    assert ANSWER.encode() not in traced.raw


@pytest.mark.parametrize("header", [{}, {"traceparent": "00-not-a-trace-01"},
                                    {"traceparent": f"00-{'0' * 32}-{PARENT_ID}-01"}])
def test_without_a_valid_traceparent_a_trace_of_its_own(serve: Serve, traced: Collector,
                                                        tmp_path: Path,
                                                        header: dict[str, str]) -> None:
    """No header, or a malformed one, is no error: the supervision roots a new trace."""
    record = supervise(serve, tmp_path, header)
    root = next(s for s in traced.spans() if s.name == "supervisor.supervise"
                and s.attributes.get("supervisor.record_id") == record)
    assert root.parent_span_id == "" and root.trace_id not in (TRACE_ID, "0" * 32)
