"""What tracing costs a supervision: off (the default), and on with the OpenTelemetry SDK.

The supervision is `bench/overhead.py`'s: healthcare's principles, pattern detectors and
one zero-latency scripted judge call, so the time is the pipeline's own. Measured
interleaved in one process: tracing off, and tracing on through the SDK's TracerProvider
and batch processor into an exporter that drops the spans (the network is not counted).

With tracing off the hooks are still called; a hook-free pipeline is not kept to compare
against, so their cost is timed directly instead: the dearer of one null `span(...)` block
shaped like the judge call's hook and one pass through a `supervision` decorator (beyond
the call it wraps), times the spans one supervision opens when tracing is on, set beside
the supervision's own time.

    .venv/bin/python bench/tracing.py [--runs 2000]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import statistics
import time
import timeit
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult

from supervisor import tracing
from supervisor.constitution import load_constitution
from supervisor.decision import Usage
from supervisor.detectors.pattern import PatternDetector
from supervisor.pipeline import Supervisor
from supervisor.providers import ChatRequest
from supervisor.providers.fake import FakeProvider

ANSWER = ("Broad index funds spread risk across many companies, but their value can fall "
          "and you can lose money; a licensed advisor can review your situation. " * 3)


class Dropping(SpanExporter):
    """Counts the spans it is given and sends them nowhere."""

    def __init__(self) -> None:
        self.spans = 0

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        self.spans += len(spans)
        return SpanExportResult.SUCCESS


def compliant(request: ChatRequest) -> dict[str, Any]:
    assert request.schema is not None
    ids = request.schema["properties"]["verdicts"]["items"]["properties"]["principle"]["enum"]
    return {"verdicts": [{"principle": i, "violated": False, "confidence": 0.9,
                          "rationale": "ok", "evidence": []} for i in ids]}


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def measure(runs: int) -> dict[str, Any]:
    constitution = load_constitution("healthcare")
    sup = Supervisor(constitution, supervisor=FakeProvider(compliant),
                     detectors={"pattern": PatternDetector()})
    exporter = Dropping()
    provider = TracerProvider()
    provider.add_span_processor(BatchSpanProcessor(exporter))
    for _ in range(50):  # warm caches (regex compilation, imports) in both modes
        tracing.enable(provider)
        await sup.check_output(ANSWER)
        tracing.disable()
        await sup.check_output(ANSWER)
    provider.force_flush()
    before = exporter.spans
    tracing.enable(provider)
    await sup.check_output(ANSWER)
    tracing.disable()
    provider.force_flush()
    spans_per_supervision = exporter.spans - before

    off_ms, on_ms = [], []
    for _ in range(runs):
        start = time.perf_counter()
        await sup.check_output(ANSWER)
        off_ms.append((time.perf_counter() - start) * 1000)
        tracing.enable(provider)
        start = time.perf_counter()
        await sup.check_output(ANSWER)
        on_ms.append((time.perf_counter() - start) * 1000)
        tracing.disable()
    provider.shutdown()

    ids = [p.id for p in constitution.principles[:5]]
    usage = Usage(calls=1, input_tokens=300, output_tokens=70)

    def null_span() -> None:  # shaped like the dearest hook, the judge call's
        with tracing.span("supervisor.judge", {"supervisor.model": "fake:judge",
                                               "supervisor.principles.checked": list(ids)}
                          ) as span:
            tracing.count(span, usage)
            span.set_attribute("supervisor.attempts", 1)
            span.set_attribute("supervisor.principles.violated", [i for i in ids if not i])
            span.set_attribute("supervisor.verdict_valid", True)

    async def plain(owner: Supervisor) -> None:
        return None

    passthrough = tracing.supervision("bench")(plain)

    def run(method: Any) -> Callable[[], None]:
        def once() -> None:
            with contextlib.suppress(StopIteration):
                method(sup).send(None)
        return once

    number = 200_000

    def best(call: Callable[[], None]) -> float:
        return min(timeit.repeat(call, number=number, repeat=5)) / number * 1e6

    span_us = best(null_span)
    decorator_us = max(0.0, best(run(passthrough)) - best(run(plain)))
    hooks_us = spans_per_supervision * max(span_us, decorator_us)
    off_p50 = percentile(off_ms, 0.5)
    return {
        "runs": runs,
        "principles": len(constitution.principles),
        "spans_per_supervision": spans_per_supervision,
        "off_ms": {"p50": off_p50, "p99": percentile(off_ms, 0.99),
                   "mean": statistics.fmean(off_ms)},
        "on_ms": {"p50": percentile(on_ms, 0.5), "p99": percentile(on_ms, 0.99),
                  "mean": statistics.fmean(on_ms)},
        "off_hook_us": {"null_span": span_us, "decorator_extra": decorator_us,
                        "per_supervision": hooks_us,
                        "share_of_off_p50": hooks_us / 1000 / off_p50},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=2000)
    result = asyncio.run(measure(parser.parse_args().runs))
    off, on, hooks = result["off_ms"], result["on_ms"], result["off_hook_us"]
    print(f"supervisions: {result['runs']} per mode on healthcare ({result['principles']} "
          f"principles), pattern detectors + one zero-latency judge call; "
          f"{result['spans_per_supervision']} spans each when on")
    print(f"{'':32}{'p50 ms':>10}{'p99 ms':>10}")
    print(f"{'tracing off':32}{off['p50']:>10.3f}{off['p99']:>10.3f}")
    print(f"{'tracing on (SDK, spans dropped)':32}{on['p50']:>10.3f}{on['p99']:>10.3f}")
    print(f"off hooks: null span {hooks['null_span']:.3f} us, decorator extra "
          f"{hooks['decorator_extra']:.3f} us; {hooks['per_supervision']:.2f} us per "
          f"supervision = {hooks['share_of_off_p50']:.2%} of its p50")
    out = Path(__file__).parent / "results" / "tracing.json"
    out.write_text(json.dumps(result, indent=2))
    print(f"saved {out}")


if __name__ == "__main__":
    main()
