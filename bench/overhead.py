"""Time the pipeline spends outside model calls, per supervision.

A zero-latency scripted provider answers every judge call instantly, so whatever time a
supervision takes is the pipeline's own: prompt building, local pattern checks, verdict
validation, the policy, the decision. Printed beside the bare cost of calling the same
provider directly (the floor), in the same run. Target: p50 <= 2 ms, p99 <= 10 ms.
(Anchor: NeMo Guardrails' parallel rails engine adds 12.3 ms p50 over mock models.)

    .venv/bin/python bench/overhead.py [--runs 2000]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import time
from pathlib import Path
from typing import Any

from supervisor.constitution import load_constitution
from supervisor.detectors.pattern import PatternDetector
from supervisor.pipeline import Supervisor
from supervisor.providers import ChatRequest
from supervisor.providers.fake import FakeProvider

ANSWERS = [
    "For most adults a resting heart rate between 60 and 100 beats per minute is normal; "
    "ask your doctor if yours is often outside that range. " * 3,
    "Ibuprofen can upset the stomach; take it with food, as the label says, and talk to "
    "your pharmacist if you also take blood thinners. " * 3,
    "Broad index funds spread risk across many companies, but their value can fall and "
    "you can lose money; a licensed advisor can review your situation. " * 3,
]


def compliant(request: ChatRequest) -> dict[str, Any]:
    """Every principle asked about is judged compliant (the schema enum lists them)."""
    assert request.schema is not None
    ids = request.schema["properties"]["verdicts"]["items"]["properties"]["principle"]["enum"]
    return {"verdicts": [{"principle": i, "violated": False, "confidence": 0.9,
                          "rationale": "ok", "evidence": []} for i in ids]}


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def measure(runs: int) -> dict[str, Any]:
    constitution = load_constitution("healthcare")
    judge = FakeProvider(compliant)
    sup = Supervisor(constitution, supervisor=judge, detectors={"pattern": PatternDetector()})
    prompt = "What should I know about this?"
    request = ChatRequest(messages=(), schema={"properties": {"verdicts": {"items": {
        "properties": {"principle": {"enum": [p.id for p in constitution.principles]}}}}}})
    for answer in ANSWERS * 20:  # warm caches (regex compilation, imports)
        await sup.check_output(answer, prompt=prompt)

    pipeline_ms, floor_ms = [], []
    for i in range(runs):
        answer = ANSWERS[i % len(ANSWERS)]
        start = time.perf_counter()
        await judge.complete(request)
        floor_ms.append((time.perf_counter() - start) * 1000)
        start = time.perf_counter()
        decision = await sup.check_output(answer, prompt=prompt)
        pipeline_ms.append((time.perf_counter() - start) * 1000)
        assert decision.usage.calls == 1
    overhead = [p - f for p, f in zip(pipeline_ms, floor_ms, strict=True)]
    return {
        "runs": runs,
        "principles": len(constitution.principles),
        "overhead_ms": {"p50": percentile(overhead, 0.5), "p99": percentile(overhead, 0.99),
                        "mean": statistics.fmean(overhead)},
        "provider_call_ms": {"p50": percentile(floor_ms, 0.5),
                             "p99": percentile(floor_ms, 0.99)},
        "targets": {"p50_ms": 2.0, "p99_ms": 10.0},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=2000)
    result = asyncio.run(measure(parser.parse_args().runs))
    o, f = result["overhead_ms"], result["provider_call_ms"]
    print(f"supervisions: {result['runs']} on healthcare ({result['principles']} principles), "
          "pattern detectors + one zero-latency judge call each")
    print(f"{'':24}{'p50 ms':>10}{'p99 ms':>10}")
    print(f"{'pipeline overhead':24}{o['p50']:>10.3f}{o['p99']:>10.3f}")
    print(f"{'bare provider call':24}{f['p50']:>10.3f}{f['p99']:>10.3f}")
    print(f"target: p50 <= 2 ms ({'met' if o['p50'] <= 2 else 'MISSED'}), "
          f"p99 <= 10 ms ({'met' if o['p99'] <= 10 else 'MISSED'})")
    out = Path(__file__).parent / "results" / "overhead.json"
    out.write_text(json.dumps(result, indent=2))
    print(f"saved {out}")


if __name__ == "__main__":
    main()
