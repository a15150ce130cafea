"""The dashboard: decisions over time by action, violations by principle, error rate, cost.

Model calls are counted apart: the supervisor's (judge verdicts, rewrites) and the
primary model's (the answers it was asked for); the cost chart is the supervisor's.

Figures are computed from the decision records in the chosen period (read through the
ledger's index: only the period's records) and drawn as server-side SVG; the same figures
are printed as a table below the charts. Periods of two days or less are bucketed by
hour, longer ones by day.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from fastapi import APIRouter, Request, Response
from markupsafe import Markup

from api.access import ServiceDep
from api.console.charts import COLORS, bars, columns
from api.console.render import ACTIONS, ConsoleRoute, bad_filter, page
from api.console.session import PATH, ReaderDep
from api.console.views import Spend, Split, split_usage
from api.records import BadFilter, filter_of, matching, recorded
from supervisor.ledger.export import fired

router = APIRouter(prefix=PATH, route_class=ConsoleRoute, include_in_schema=False)


@dataclass
class Figures:
    """What the dashboard shows, bucketed by time."""

    buckets: list[str] = field(default_factory=list)
    by_action: dict[str, list[float]] = field(default_factory=dict)
    error_rate: list[float] = field(default_factory=list)
    cost: list[float] = field(default_factory=list)
    principles: Counter[str] = field(default_factory=Counter)
    totals: Counter[str] = field(default_factory=Counter)
    usage: Split = field(default_factory=lambda: Split(Spend(), Spend()))

    @property
    def decisions(self) -> int:
        return sum(self.totals.values())

    @property
    def cost_usd(self) -> float:
        """What the supervisor's model calls cost in the period."""
        return sum(self.cost)

    @property
    def errors_pct(self) -> float:
        return 100 * self.totals["error"] / self.decisions if self.decisions else 0.0


def figures(decisions: list[dict[str, Any]]) -> Figures:
    """Aggregate decision records (oldest first) into the dashboard's figures."""
    out = Figures()
    if not decisions:
        return out
    first, last = decisions[0]["ts"], decisions[-1]["ts"]
    hourly = first[:10] == last[:10] or _days_between(first, last) <= 2
    width = 13 if hourly else 10
    counts: dict[str, Counter[str]] = defaultdict(Counter)
    cost: defaultdict[str, float] = defaultdict(float)
    for record in decisions:
        body = record.get("body") or {}
        bucket = record["ts"][:width].replace("T", " ") + (":00" if hourly else "")
        action = str(body.get("action"))
        counts[bucket][action] += 1
        out.totals[action] += 1
        out.principles.update(fired(body))
        usage = split_usage(body)
        cost[bucket] += usage.supervisor.cost_usd
        out.usage += usage
    out.buckets = sorted(counts)
    present = [a for a in ACTIONS if out.totals[a]] + sorted(set(out.totals) - set(ACTIONS))
    out.by_action = {a: [counts[b][a] for b in out.buckets] for a in present}
    out.error_rate = [100 * counts[b]["error"] / sum(counts[b].values()) for b in out.buckets]
    out.cost = [cost[b] for b in out.buckets]
    return out


def charts(found: Figures) -> dict[str, Markup]:
    return {
        "actions": columns(found.buckets, found.by_action, title="Decisions by action",
                           colors=COLORS),
        "principles": bars(list(found.principles.items()), title="Violations by principle",
                           color="#c62828"),
        "errors": columns(found.buckets, {"error rate": found.error_rate},
                          title="Error rate (% of decisions)", fmt=lambda v: f"{v:.1f}%",
                          colors={"error rate": COLORS["error"]}),
        "cost": columns(found.buckets, {"cost": found.cost}, title="Supervisor cost (USD)",
                        fmt=lambda v: f"${v:.4f}"),
    }


@router.get("/dashboard")
async def dashboard(request: Request, service: ServiceDep, user: ReaderDep) -> Response:
    """Charts of the decisions in a period (default: everything); the read is recorded."""
    params = {k: request.query_params.get(k, "").strip()
              for k in ("since", "until", "constitution", "app")}
    try:
        keep = filter_of(params, kind="decision")
    except BadFilter as exc:
        return bad_filter(user, exc, PATH + "/dashboard")
    found = figures(await matching(service.ledger, keep))
    await recorded(service.ledger, actor=user.name, what="dashboard", via="console",
                   keep=keep, count=found.decisions)
    return page("dashboard.html", user, params=params, found=found, charts=charts(found))


def _days_between(first: str, last: str) -> float:
    def parse(ts: str) -> datetime:
        return datetime.fromisoformat(ts.replace("Z", "+00:00"))

    return (parse(last) - parse(first)).total_seconds() / 86400
