"""The record's presentation: the word diff, filters with versions, principles that fired."""

from __future__ import annotations

from typing import Any

import pytest

from api.console.views import diff
from supervisor.errors import ConfigError
from supervisor.ledger.export import Filter, fired


def _decision(**body: Any) -> dict[str, Any]:
    return {"kind": "decision", "ts": "2026-11-23T09:00:00.000000Z", "id": "rec_1",
            "body": {"action": "revise", "violated": [], "revisions": [],
                     "provenance": {"constitution": {"id": "finance", "version": "1.3.0"}},
                     "context": {"app_id": "advisor"}, **body}}


def test_the_diff_marks_removed_and_added_words_only() -> None:
    left, right = diff("Call me at home now.", "Call me now. See a doctor.")
    assert [s.text for s in left if s.changed] == ["at home "]
    assert "".join(s.text for s in right if s.changed).strip() == "See a doctor."
    assert "".join(s.text for s in left) == "Call me at home now."
    assert "".join(s.text for s in right) == "Call me now. See a doctor."


def test_identical_texts_have_no_changes() -> None:
    left, right = diff("Same text.", "Same text.")
    assert not any(s.changed for s in left + right)


def test_a_principle_revised_away_still_fired() -> None:
    body = _decision(revisions=[{"principles": ["phi-disclosure"]}],
                     violated=["tone"])["body"]
    assert fired(body) == ["tone", "phi-disclosure"]


@pytest.mark.parametrize(("params", "kept"), [
    ({"constitution": "finance"}, True),
    ({"constitution": "finance@1.3.0"}, True),
    ({"constitution": "finance@1.2.0"}, False),
    ({"constitution": "healthcare"}, False),
    ({"principle": "phi-disclosure"}, True),
    ({"principle": "tone"}, False),
    ({"until": "2026-11-23"}, True),  # a bare date means the end of that day
    ({"until": "2026-11-22"}, False),
    ({"since": "2026-11-24"}, False),
    ({"app": "advisor", "action": "revise"}, True),
    ({"app": "clinic"}, False),
])
def test_the_list_filter(params: dict[str, str], kept: bool) -> None:
    record = _decision(revisions=[{"principles": ["phi-disclosure"]}])
    assert Filter.of(params, kind="decision")(record) is kept


def test_a_period_is_compared_in_utc_whatever_its_form() -> None:
    """A time with seconds, an offset or no zone reads as the same UTC instant as stored."""
    record = {"ts": "2026-11-23T10:00:00.500000Z", "kind": "decision", "body": {}}
    assert Filter(since="2026-11-23T10:00:00Z")(record)
    assert Filter(since="2026-11-23T11:00:00+01:00")(record)
    assert not Filter(since="2026-11-23T10:00:01")(record)
    assert Filter(until="2026-11-23")(record) and not Filter(until="2026-11-22")(record)


def test_a_malformed_period_raises_naming_the_field() -> None:
    """A typo in a date is an error saying which field and which form, not an empty match."""
    with pytest.raises(ConfigError, match=r"until='2026-13-01' .*2026-11-01"):
        Filter(until="2026-13-01")


@pytest.mark.parametrize(("stored", "shown"), [
    ({"rationale": None}, "not stored"), ({}, "not stored"),
    ({"rationale": "quotes <US_SSN>"}, "quotes &lt;US_SSN&gt;")])
def test_a_verdict_without_a_stored_rationale_says_so(stored: dict[str, Any],
                                                      shown: str) -> None:
    """Under store_text: none no rationale is kept; the page says so instead of 'None'."""
    from api.console.render import environment

    verdict = {"principle": "phi", "violated": True, "confidence": 0.9, "source": "pii",
               "evidence": [], **stored}
    html = environment.get_template("verdict.html").render(
        e={"verdict": verdict, "statement": "", "citations": []})
    assert f"<em>Rationale:</em> {shown}" in html and "None" not in html
