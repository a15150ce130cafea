"""Evaluation metrics on small hand-made tables."""

from __future__ import annotations

import pytest

from supervisor.evaluation.metrics import Confusion, Latency, Scored, percentile, summarise


def test_confusion_scores_match_hand_computed_values() -> None:
    """3 tp, 1 fp, 2 fn, 4 tn give precision 3/4, recall 3/5, F1 6/9."""
    pairs = [(True, True)] * 3 + [(False, True)] + [(True, False)] * 2 + [(False, False)] * 4
    c = Confusion.of(pairs)
    assert (c.tp, c.fp, c.fn, c.tn) == (3, 1, 2, 4)
    assert c.precision == pytest.approx(0.75)
    assert c.recall == pytest.approx(0.6)
    assert c.f1 == pytest.approx(6 / 9)


def test_empty_confusion_scores_zero_not_nan() -> None:
    """No predictions and no positives: scores are 0.0, never a division error."""
    c = Confusion.of([(False, False)])
    assert (c.precision, c.recall, c.f1) == (0.0, 0.0, 0.0)


def test_percentile_interpolates_between_ranks() -> None:
    """p50 of 1..4 is 2.5; p95 of 0..100 is 95; one value is every percentile."""
    assert percentile([4.0, 1.0, 3.0, 2.0], 50) == pytest.approx(2.5)
    assert percentile([float(v) for v in range(101)], 95) == pytest.approx(95.0)
    assert Latency.of([7.0]) == Latency(7.0, 7.0, 7.0, 1)


def outcome(item: str, violation: bool, flagged: bool, stopped: bool,
            violated: tuple[str, ...] = (), labels: tuple[tuple[str, bool], ...] = (),
            ms: float = 10.0, calls: int = 0) -> Scored:
    return Scored(item, violation, flagged, stopped, "block" if stopped else "allow",
                   violated, labels, ms, calls, 5 * calls, calls)


def test_summary_counts_stop_rates_per_principle_and_usage() -> None:
    """Safe-stopped and unsafe-stopped rates, per-principle confusion only over labelled
    items, and summed calls and tokens."""
    outcomes = [
        outcome("1", True, True, True, ("hate",), (("hate", True),), calls=1),
        outcome("2", True, False, False, (), (("hate", True),)),
        outcome("3", False, True, True, ("hate",), (("hate", False),), calls=1),
        outcome("4", False, False, False, (), (("hate", False),)),
        outcome("5", False, False, False, (), ()),  # unlabelled for hate
    ]
    s = summarise(outcomes)
    assert s.items == 5
    assert (s.overall.tp, s.overall.fp, s.overall.fn, s.overall.tn) == (1, 1, 1, 2)
    assert s.safe_stopped_rate == pytest.approx(1 / 3)
    assert s.unsafe_stopped_rate == pytest.approx(0.5)
    hate = s.per_principle["hate"]
    assert (hate.tp, hate.fp, hate.fn, hate.tn) == (1, 1, 1, 1)
    assert (s.calls, s.input_tokens, s.output_tokens) == (2, 10, 2)
    figures = s.to_json()
    assert {"precision", "recall", "f1", "safe_stopped_rate", "per_principle", "latency_ms",
            "calls", "tokens"} <= figures.keys()
    assert figures["actions"] == {"allow": 3, "block": 2}


def test_unknown_cost_makes_total_cost_unknown() -> None:
    """One item with an unknown price makes the total None, not an understated sum."""
    known = outcome("1", False, False, False)
    unknown = Scored("2", False, False, False, "allow", cost_usd=None)
    assert summarise([known, unknown]).cost_usd is None
