"""OpenTelemetry tracing: the span tree of one supervision, as an OTLP collector receives it.

The supervision runs on a pattern-only constitution (nothing heavy loads), a scripted
judge (so the judge and rewrite spans exist), a scripted primary model and a real JSONL
ledger; the SDK's OTLP/HTTP exporter sends to a collector on loopback, found through the
standard OTEL_EXPORTER_OTLP_ENDPOINT variable.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from supervisor import tracing
from supervisor.constitution import Constitution, load_constitution
from supervisor.decision import Action, Decision
from supervisor.errors import ConfigError, ProviderUnavailable
from supervisor.ledger import open_ledger
from supervisor.pipeline import Supervisor
from supervisor.providers.fake import FakeProvider
from supervisor.settings import Settings, current
from tests.fakes.otlp_collector import Collector, Exported, collecting

CONSTITUTION = """\
id: traced
version: 3.1.4
defaults: {max_revisions: 2, on_error: block, store_text: none}
principles:
  - id: no-bombs
    statement: The answer gives no instructions for building bombs.
    action: block
    citations: [t]
    checks:
      - pattern: {phrases: [pipe bomb]}
      - judge: {}
  - id: cite-sources
    statement: The answer cites where its facts come from.
    action: revise
    citations: [t]
    checks:
      - judge: {}
  - id: add-disclaimer
    statement: The answer includes the phrase "not advice".
    action: revise
    citations: [t]
    checks:
      - pattern: {absent: ['not advice']}
    remedy: {append: "This is not advice."}
  - id: no-secrets-in-prompt
    statement: The prompt carries no passwords to the model vendor.
    applies_to: input
    action: block
    citations: [t]
    checks:
      - pattern: {regex: ['password\\s*[:=]']}
"""

# every text of the exchange: none of these may leave the process in a span
PROMPT = "Zanzibar-prompt: should I buy the quokka fund?"
ANSWER = "Quokka funds always triple, buy now."
REWRITTEN = "Quokka funds can lose value (source: Marmoset Report). This is not advice."
RATIONALE = "no-source-given-wombat"
EVIDENCE = "always triple"
SECRETS = (PROMPT, ANSWER, REWRITTEN, RATIONALE, EVIDENCE, "This is not advice",
           "cites where its facts", "REVIEW-", "Principles to satisfy")


def verdicts(*violated: str, evidence: str = "") -> dict[str, Any]:
    return {"verdicts": [{"principle": i, "violated": i in violated, "confidence": 0.9,
                          "rationale": RATIONALE, "evidence": [evidence] if evidence else []}
                         for i in ("no-bombs", "cite-sources")]}


@pytest.fixture
def constitution(tmp_path: Path) -> Constitution:
    path = tmp_path / "traced.yaml"
    path.write_text(CONSTITUTION)
    return load_constitution(path)


@pytest.fixture
def collector(monkeypatch: pytest.MonkeyPatch) -> Iterator[Collector]:
    """A collector on loopback, named by OTEL_EXPORTER_OTLP_ENDPOINT as a deployment would."""
    with collecting() as running:
        monkeypatch.delenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", raising=False)
        monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", running.url)
        yield running


@pytest.fixture
def otlp(collector: Collector) -> Iterator[Collector]:
    """Tracing on (SUPERVISOR_TRACING=otlp) for one test, off again after it."""
    assert tracing.configure(current({"SUPERVISOR_TRACING": "otlp"}).tracing)
    try:
        yield collector
    finally:
        tracing.disable()


@dataclass
class Run:
    decision: Decision
    spans: list[Exported]
    raw: bytes

    def named(self, name: str) -> list[Exported]:
        return [s for s in self.spans if s.name == name]

    def one(self, name: str) -> Exported:
        found = self.named(name)
        assert len(found) == 1, f"{name}: {[s.name for s in self.spans]}"
        return found[0]

    def children(self, parent: Exported) -> list[str]:
        return [s.name for s in self.spans if s.parent_span_id == parent.span_id]


async def supervised(constitution: Constitution, tmp_path: Path, collector: Collector
                     ) -> Run:
    """One supervision with a primary call, a judge call, a revision round and a rewrite."""
    ledger = await open_ledger(str(tmp_path / "ledger"), settings=Settings(
        ledger=str(tmp_path / "ledger"), checkpoint_seconds=3600))
    judge = FakeProvider([verdicts("cite-sources", evidence=EVIDENCE), REWRITTEN,
                          verdicts()], name="fake:judge")
    primary = FakeProvider([ANSWER], name="fake:primary")
    supervisor = Supervisor(constitution, supervisor=judge, primary=primary, ledger=ledger)
    try:
        decision = await supervisor.supervise(prompt=PROMPT)
    finally:
        await ledger.close()
    assert tracing.flush()
    return Run(decision, collector.spans(), collector.raw)


async def test_one_supervision_is_one_span_tree(otlp: Collector, constitution: Constitution,
                                                tmp_path: Path) -> None:
    """Root `supervise`; stages hold detectors, judge and revision (with its rewrite)."""
    run = await supervised(constitution, tmp_path, otlp)
    assert run.decision.action is Action.REVISE
    root = run.one("supervisor.supervise")
    assert root.parent_span_id == ""
    assert {s.trace_id for s in run.spans} == {root.trace_id}
    assert run.children(root) == ["supervisor.stage", "supervisor.ledger.append",
                                  "supervisor.primary", "supervisor.stage",
                                  "supervisor.ledger.append"]
    inbound, outbound = sorted(run.named("supervisor.stage"),
                               key=lambda s: s.attributes["supervisor.stage"])
    assert inbound.attributes["supervisor.stage"] == "input"
    assert run.children(inbound) == ["supervisor.detector"]
    # round 1: checks, then the revision; round 2: the revised answer is checked again
    assert run.children(outbound) == ["supervisor.detector", "supervisor.judge",
                                      "supervisor.revision", "supervisor.detector",
                                      "supervisor.judge"]
    revision = run.one("supervisor.revision")
    assert run.children(revision) == ["supervisor.rewrite"]
    assert {s.scope for s in run.spans} == {"supervisor"}


async def test_spans_carry_identifiers_and_counts(otlp: Collector, constitution: Constitution,
                                                  tmp_path: Path) -> None:
    """Action, constitution, principle ids, stage, record id and token counts are attributes."""
    run = await supervised(constitution, tmp_path, otlp)
    root = run.one("supervisor.supervise").attributes
    assert root["supervisor.constitution.id"] == "traced"
    assert root["supervisor.constitution.version"] == "3.1.4"
    assert root["supervisor.action"] == "revise"
    assert root["supervisor.stage"] == "output"
    assert root["supervisor.record_id"] == run.decision.record_id
    assert root["supervisor.revisions"] == 1
    assert root["supervisor.principles.revised"] == ["add-disclaimer", "cite-sources"]
    assert root["gen_ai.usage.input_tokens"] == run.decision.usage.input_tokens > 0
    outbound = next(s for s in run.named("supervisor.stage")
                    if s.attributes["supervisor.stage"] == "output").attributes
    assert outbound["supervisor.principles.checked"] == ["no-bombs", "cite-sources",
                                                        "add-disclaimer"]
    assert outbound["supervisor.principles.violated"] == []  # after the revision
    first_judge = run.named("supervisor.judge")[0].attributes
    assert first_judge["supervisor.principles.checked"] == ["no-bombs", "cite-sources"]
    assert first_judge["supervisor.principles.violated"] == ["cite-sources"]
    assert first_judge["supervisor.model"] == "fake:judge"
    assert first_judge["gen_ai.usage.output_tokens"] > 0
    detector = run.named("supervisor.detector")[1].attributes
    assert detector["supervisor.detector"] == "pattern"
    assert detector["supervisor.principles.violated"] == ["add-disclaimer"]
    revision = run.one("supervisor.revision").attributes
    assert revision["supervisor.round"] == 1
    assert revision["supervisor.method"] == "rewrite"
    assert sorted(revision["supervisor.principles.violated"]) == ["add-disclaimer",
                                                                  "cite-sources"]
    primary = run.one("supervisor.primary").attributes
    assert primary["supervisor.model"] == "fake:primary"
    assert primary["gen_ai.usage.input_tokens"] > 0
    appends = run.named("supervisor.ledger.append")
    assert [a.attributes["supervisor.stage"] for a in appends] == ["input", "output"]
    assert appends[1].attributes["supervisor.record_id"] == run.decision.record_id
    assert otlp.resources()[0]["service.name"] == tracing.SERVICE


async def test_no_text_of_the_exchange_is_exported(otlp: Collector, constitution: Constitution,
                                                   tmp_path: Path) -> None:
    """Prompt, answers, rewrite, rationale, evidence and judge prompts never leave in a span."""
    run = await supervised(constitution, tmp_path, otlp)
    assert run.raw and run.decision.output == REWRITTEN
    leaked = [s for s in SECRETS if s.encode() in run.raw]
    assert leaked == []


async def test_a_failed_call_is_named_by_its_type_only(otlp: Collector,
                                                       constitution: Constitution) -> None:
    """A primary model failure marks its span as an error without the exception's message."""
    failing = FakeProvider([ProviderUnavailable(f"upstream said: {ANSWER}")],
                           name="fake:primary")
    decision = await Supervisor(constitution, primary=failing).supervise(prompt=PROMPT)
    assert decision.action is Action.ERROR
    assert tracing.flush()
    primary = next(s for s in otlp.spans() if s.name == "supervisor.primary")
    assert primary.status_code == 2  # STATUS_CODE_ERROR
    assert primary.attributes["error.type"] == "ProviderUnavailable"
    assert ANSWER.encode() not in otlp.raw and PROMPT.encode() not in otlp.raw


async def test_assess_and_moderate_are_root_spans(otlp: Collector,
                                                  constitution: Constitution) -> None:
    """Each entry point is a root span of its own, with the constitution named."""
    supervisor = Supervisor(constitution)
    await supervisor.assess(ANSWER)
    await supervisor.moderate(ANSWER)
    assert tracing.flush()
    roots = [s for s in otlp.spans() if not s.parent_span_id]
    assert [r.name for r in roots] == ["supervisor.assess", "supervisor.moderate"]
    assert roots[0].attributes["supervisor.principles.violated"] == ["add-disclaimer"]
    assert roots[1].attributes["supervisor.action"] == "revise"
    assert {r.attributes["supervisor.constitution.id"] for r in roots} == {"traced"}


async def test_an_applications_own_provider_gets_the_spans(constitution: Constitution
                                                          ) -> None:
    """`enable(provider)`: our root span is a child of the application's current span."""
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    kept = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(kept))
    tracing.enable(provider)
    try:
        with provider.get_tracer("app").start_as_current_span("app.request") as outer:
            await Supervisor(constitution).check_output(ANSWER)
    finally:
        tracing.disable()
    root = next(s for s in kept.get_finished_spans() if s.name == "supervisor.check_output")
    assert root.parent is not None and root.parent.span_id == outer.get_span_context().span_id
    assert tracing.enabled() is False


async def test_traces_endpoint_variable_wins(collector: Collector,
                                             monkeypatch: pytest.MonkeyPatch,
                                             constitution: Constitution) -> None:
    """OTEL_EXPORTER_OTLP_TRACES_ENDPOINT is used as given, path and all."""
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", collector.url + "/team/traces")
    tracing.configure("otlp")
    try:
        await Supervisor(constitution).assess(ANSWER)
        assert tracing.flush()
    finally:
        tracing.disable()
    assert [path for path, _ in collector.received] == ["/team/traces"]


async def test_tracing_off_exports_nothing(collector: Collector,
                                           constitution: Constitution) -> None:
    """Off (the default), a supervision sends nothing even with an endpoint configured."""
    assert current({}).tracing == "off"
    assert tracing.configure("off") is False
    decision = await Supervisor(constitution).check_output(ANSWER)
    assert decision.action is Action.REVISE and not tracing.enabled()
    assert tracing.flush()
    assert collector.received == []


def test_tracing_off_loads_no_sdk(collector: Collector, tmp_path: Path) -> None:
    """Off, a supervision in a fresh process imports neither the SDK nor the exporter."""
    path = tmp_path / "traced.yaml"
    path.write_text(CONSTITUTION)
    script = textwrap.dedent(f"""
        import asyncio, sys
        from supervisor.constitution import load_constitution
        from supervisor.pipeline import Supervisor
        decision = asyncio.run(Supervisor(load_constitution({str(path)!r})).check_output("x"))
        print(decision.action, sorted(m for m in sys.modules if m.startswith(
            ("opentelemetry.sdk", "opentelemetry.exporter"))))
    """)
    env = {k: v for k, v in os.environ.items() if k != "SUPERVISOR_TRACING"}
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          env=env, timeout=120, check=True)
    assert done.stdout.split() == ["revise", "[]"]
    assert collector.received == []


def test_an_unknown_tracing_mode_is_refused() -> None:
    """SUPERVISOR_TRACING takes otlp or off; anything else names both."""
    with pytest.raises(ConfigError, match="use one of off, otlp"):
        current({"SUPERVISOR_TRACING": "jaeger"})
    with pytest.raises(ConfigError, match="SUPERVISOR_TRACING"):
        tracing.configure("zipkin")
