"""Dashboard figures from decision records, and the SVG charts drawn from them."""

from __future__ import annotations

from typing import Any

from api.console.charts import bars, columns
from api.console.dashboard import charts, figures


def _decision(ts: str, action: str, cost: float = 0.0, violated: tuple[str, ...] = ()
              ) -> dict[str, Any]:
    return {"kind": "decision", "ts": ts, "id": f"rec_{ts}",
            "body": {"action": action, "violated": list(violated), "revisions": [],
                     "usage": {"calls": 1, "cost_usd": cost, "input_tokens": 10,
                               "output_tokens": 5}}}


def test_figures_bucket_by_day_and_count_actions_errors_and_cost() -> None:
    found = figures([
        _decision("2026-11-01T10:00:00Z", "allow", 0.01),
        _decision("2026-11-01T11:00:00Z", "error", 0.02),
        _decision("2026-11-05T09:00:00Z", "block", 0.03, ("hate",)),
        _decision("2026-11-05T10:00:00Z", "block", 0.0, ("hate", "tone")),
    ])
    assert found.buckets == ["2026-11-01", "2026-11-05"]
    assert found.by_action == {"allow": [1, 0], "block": [0, 2], "error": [1, 0]}
    assert found.error_rate == [50.0, 0.0]
    assert found.errors_pct == 25.0
    assert round(found.cost_usd, 4) == 0.06 and found.cost[1] == 0.03
    assert found.principles == {"hate": 2, "tone": 1}
    assert (found.usage.supervisor.calls, found.usage.supervisor.tokens) == (4, 60)


def test_a_short_period_is_bucketed_by_hour() -> None:
    found = figures([_decision("2026-11-01T10:05:00Z", "allow"),
                     _decision("2026-11-01T12:30:00Z", "allow")])
    assert found.buckets == ["2026-11-01 10:00", "2026-11-01 12:00"]


def test_charts_are_svg_with_accessible_titles_and_escaped_labels() -> None:
    svg = str(bars([("<script>", 3.0), ("tone", 1.0)], title="Violations"))
    assert svg.startswith("<svg") and "<title>Violations</title>" in svg
    assert "<script>" not in svg and "&lt;script&gt;" in svg
    stacked = str(columns(["d1", "d2"], {"allow": [1, 2], "block": [3, 0]}, title="By action",
                          colors={"allow": "#2e7d32", "block": "#c62828"}))
    assert stacked.count("<rect") == 3 + 2  # three non-zero bars, two legend keys
    assert "d1: 4; d2: 2" in stacked  # the description names every total


def test_an_empty_period_draws_charts_that_say_so() -> None:
    drawn = charts(figures([]))
    assert "no decisions in this period" in str(drawn["actions"])
    assert "none in this period" in str(drawn["principles"])
