"""Prometheus metrics, one registry per app (so two apps in one process never mix counts).

What an operator graphs: decisions by action, violations by principle, latency by stage
(detectors, judge, revise, primary, total), model calls and tokens, errors by kind,
HTTP requests by route and status, and requests refused by a key's limits (`api.quotas`).
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest

from supervisor.decision import Decision

BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
           30.0)


class Metrics:
    """The service's counters and histograms."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.decisions = Counter("supervisor_decisions", "Decisions by action and stage.",
                                 ["action", "stage", "constitution"], registry=r)
        self.violations = Counter("supervisor_violations", "Violated principles.",
                                  ["principle", "constitution"], registry=r)
        self.stage_seconds = Histogram("supervisor_stage_seconds",
                                       "Time spent per supervision stage.", ["stage"],
                                       buckets=BUCKETS, registry=r)
        self.model_calls = Counter("supervisor_model_calls", "Calls to the supervisor and "
                                   "primary models.", registry=r)
        self.tokens = Counter("supervisor_tokens", "Model tokens by direction.",
                              ["direction"], registry=r)
        self.cost = Counter("supervisor_cost_usd", "Model cost in US dollars.", registry=r)
        self.errors = Counter("supervisor_errors", "Errors by kind.", ["kind"], registry=r)
        self.requests = Counter("supervisor_http_requests", "HTTP requests by route and "
                                "status.", ["route", "status"], registry=r)
        self.request_seconds = Histogram("supervisor_http_request_seconds",
                                         "HTTP request latency by route.", ["route"],
                                         buckets=BUCKETS, registry=r)
        self.limited = Counter("supervisor_rate_limited", "Requests refused with 429 by a "
                               "key's limits, by key name and reason (rate, concurrency).",
                               ["key", "reason"], registry=r)

    def observe(self, decision: Decision) -> None:
        """Count one decision (and the input-stage decision it carries)."""
        if decision.input_decision is not None:
            self.observe(decision.input_decision)
        constitution = decision.provenance.constitution_id
        self.decisions.labels(str(decision.action), decision.stage, constitution).inc()
        fired = [*decision.violated, *(p for r in decision.revisions for p in r.principles)]
        for principle in dict.fromkeys(fired):  # a revised answer was violated before
            self.violations.labels(principle, constitution).inc()
        for stage, ms in decision.timings_ms:
            self.stage_seconds.labels(stage).observe(ms / 1000)
        usage = decision.usage
        if usage.calls:
            self.model_calls.inc(usage.calls)
        if usage.input_tokens:
            self.tokens.labels("input").inc(usage.input_tokens)
        if usage.output_tokens:
            self.tokens.labels("output").inc(usage.output_tokens)
        if usage.cost_usd:
            self.cost.inc(usage.cost_usd)
        if str(decision.action) == "error":
            self.errors.labels("decision").inc()

    def http(self, route: str, status: int, seconds: float) -> None:
        """One HTTP request, by route template (never the raw path: ids would explode it)."""
        self.requests.labels(route, str(status)).inc()
        self.request_seconds.labels(route).observe(seconds)

    def render(self) -> bytes:
        return generate_latest(self.registry)
