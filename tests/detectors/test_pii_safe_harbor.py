"""Safe Harbor tests for dates, ages and places, and the obfuscated PII evaluation set.

These need no spaCy: they read the rules that decide what a stored text loses, and the
rewriting that measures recall on numbers whose separators were disguised.
"""

from __future__ import annotations

import random

import pytest

from supervisor.detectors.health import ages_over_89, identifying_date, identifying_place
from supervisor.evaluation.pii import (
    NUMERIC,
    OBFUSCATIONS,
    Sample,
    Span,
    folds,
    obfuscate_identifier,
    obfuscated,
)


@pytest.mark.parametrize("value", ["March 3", "3rd of May", "03/04/2021", "2021-03-04",
                                   "Tuesday", "her birthday", "92-year-old", "aged 95"])
def test_dates_that_date_a_person_are_identifying(value: str) -> None:
    """A day, a month, a weekday or an age over 89 is a Safe Harbor identifier."""
    assert identifying_date(value)


@pytest.mark.parametrize("value", ["2012", "every 6 hours", "a day", "daily", "3 days",
                                   "72-year-old", "age 89", "two weeks", "the 1990s"])
def test_years_durations_intervals_and_ages_under_90_are_not(value: str) -> None:
    """What a dosing answer is made of stays readable."""
    assert not identifying_date(value)


def test_an_age_is_read_past_the_end_of_its_span() -> None:
    """spaCy may tag '91 years' alone; the 'old' after it still makes it an age."""
    text = "She is 91 years old."
    assert identifying_date("91 years", text, text.index("91"))
    assert not identifying_date("71 years", "She is 71 years old.", 7)


def test_ages_over_89_are_found_in_text() -> None:
    text = "A 92-year-old and a 72-year-old, aged 101 and age 45."
    assert [text[a:b] for a, b in ages_over_89(text)] == ["92-year-old", "aged 101"]


@pytest.mark.parametrize(("value", "identifies"), [
    ("12 Elm Street", True), ("Springfield", True), ("Cook County", True),
    ("Illinois", False), ("the United States", False), ("Germany", False),
    ("New York State", False), ("acetaminophen", False), ("UK", False),
])
def test_places_smaller_than_a_state_identify(value: str, identifies: bool) -> None:
    """Street, city and county identify; states, countries and lowercase words do not."""
    assert identifying_place(value) is identifies


@pytest.mark.parametrize("style", OBFUSCATIONS)
def test_obfuscation_keeps_the_digits_and_changes_the_separators(style: str) -> None:
    """Each style rewrites separators only: the digits read the same, in order."""
    for value in ("536-22-8193", "4111111111111111", "+1-984-182-0190", "(37) 788-063"):
        new = obfuscate_identifier(value, style, random.Random(3))
        assert [c for c in new if c.isdigit()] == [c for c in value if c.isdigit()]
        if style != "joined":
            assert new != value or (style == "dots" and "." in value)


def test_obfuscated_samples_move_every_span() -> None:
    """Spans after (and around) a rewritten number still cover the same words."""
    text = "Card 4111111111111111 of Ana Silva, phone 905-674-3793, in Porto"
    spans = (Span("CREDIT_CARD", 5, 21), Span("PERSON", 25, 34),
             Span("PHONE_NUMBER", 42, 54), Span("GPE", 59, 64))
    sample = Sample(text, spans, 7)
    for seed in range(20):
        [out] = obfuscated([sample], seed=seed)
        words = {s.entity: out.text[s.start:s.end] for s in out.spans}
        assert words["PERSON"] == "Ana Silva" and words["GPE"] == "Porto"
        assert "".join(c for c in words["CREDIT_CARD"] if c.isdigit()) == "4111111111111111"
        assert "".join(c for c in words["PHONE_NUMBER"] if c.isdigit()) == "9056743793"
        assert out.template == 7 and all(s.entity in NUMERIC or s.entity in {"PERSON", "GPE"}
                                         for s in out.spans)


def test_folds_keep_templates_whole() -> None:
    samples = [Sample(str(i), (), i % 5) for i in range(20)]
    a, b = folds(samples)
    assert {s.template for s in a}.isdisjoint({s.template for s in b})
    assert len(a) + len(b) == 20
    with pytest.raises(ValueError, match="2 or more"):
        folds(samples, 1)
