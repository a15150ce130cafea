"""The decision policy as a table: block > escalate > revise > allow; errors outrank all."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from supervisor.constitution import Constitution, Defaults, load_constitution
from supervisor.decision import Action, Verdict
from supervisor.policy import decide

# healthcare: dosing-limits=block, emergency-referral=revise; finance: personalised=escalate
HEALTH = load_constitution("healthcare")
FINANCE = load_constitution("finance")


def v(principle: str, violated: bool = True) -> Verdict:
    return Verdict(principle, violated, 0.9, "test", "test")


def flagged(c: Constitution) -> Constitution:
    """A copy where one principle's action is flag."""
    p = c.principle("not-a-substitute").model_copy(update={"action": "flag", "remedy": None})
    return replace(c, principles=tuple(p if x.id == p.id else x for x in c.principles))


@pytest.mark.parametrize(("constitution", "verdicts", "rounds", "expected"), [
    (HEALTH, [], 0, Action.ALLOW),
    (HEALTH, [v("dosing-limits", False)], 0, Action.ALLOW),
    (HEALTH, [v("dosing-limits")], 0, Action.BLOCK),
    (HEALTH, [v("emergency-referral")], 0, Action.REVISE),
    (HEALTH, [v("emergency-referral")], 1, Action.REVISE),
    (HEALTH, [v("emergency-referral")], 2, Action.BLOCK),
    (HEALTH, [v("emergency-referral"), v("dosing-limits")], 0, Action.BLOCK),
    (FINANCE, [v("personalised-recommendation")], 0, Action.ESCALATE),
    (FINANCE, [v("personalised-recommendation"), v("no-guaranteed-returns")], 0,
     Action.ESCALATE),
    (FINANCE, [v("personalised-recommendation"), v("fair-lending")], 0, Action.BLOCK),
    (flagged(HEALTH), [v("not-a-substitute")], 0, Action.ALLOW),
])
def test_policy_table(constitution: Constitution, verdicts: list[Verdict], rounds: int,
                      expected: Action) -> None:
    """Each row: the verdicts and revision count give exactly this action."""
    assert decide(verdicts, constitution, rounds=rounds).action is expected


def test_block_outranks_revise_and_names_the_blocking_principle() -> None:
    """A block names the block principle, not the revise one."""
    ruling = decide([v("emergency-referral"), v("dosing-limits")], HEALTH)
    assert ruling.principles == ("dosing-limits",)


def test_flags_are_recorded_when_allowed() -> None:
    """A flag-only violation allows the answer but keeps the flag."""
    ruling = decide([v("not-a-substitute")], flagged(HEALTH))
    assert ruling.action is Action.ALLOW and ruling.flags == ("not-a-substitute",)


def test_revision_limit_gives_reason() -> None:
    """Still violating after max_revisions is a block that says why."""
    ruling = decide([v("emergency-referral")], HEALTH, rounds=2)
    assert ruling.action is Action.BLOCK and "2 of 2 revisions" in ruling.reason


def test_error_outranks_everything() -> None:
    """A supervisor that could not decide is an error whatever else was found."""
    ruling = decide([v("dosing-limits")], HEALTH, error="timeout")
    assert ruling.action is Action.ERROR and ruling.reason == "timeout"


def test_unevaluated_is_error_only_when_judge_required() -> None:
    """Unevaluated principles pass through unless the constitution requires a judge."""
    assert decide([], HEALTH, unevaluated=["x"]).action is Action.ALLOW
    strict = replace(HEALTH, defaults=Defaults(require_judge=True))
    ruling = decide([], strict, unevaluated=["emergency-referral"])
    assert ruling.action is Action.ERROR and "require_judge" in ruling.reason


LENIENT = replace(HEALTH, defaults=HEALTH.defaults.model_copy(update={"on_error": "allow"}))
REVISE_ONE = [v("emergency-referral")]


@pytest.mark.parametrize(("constitution", "verdicts", "options", "expected"), [
    # (action, released, shows, failure, again): every rule that picks what the caller gets
    (HEALTH, [], {}, (Action.ALLOW, True, "text", None, False)),
    (HEALTH, [v("dosing-limits")], {}, (Action.BLOCK, False, "refusal", None, False)),
    (FINANCE, [v("personalised-recommendation")], {},
     (Action.ESCALATE, False, "escalation", None, False)),
    (HEALTH, REVISE_ONE, {}, (Action.REVISE, True, "text", None, True)),
    (HEALTH, REVISE_ONE, {"rounds": 2}, (Action.BLOCK, False, "refusal", None, False)),
    (HEALTH, REVISE_ONE, {"unrepairable": True}, (Action.BLOCK, False, "refusal", None, False)),
    (HEALTH, [], {"rounds": 1}, (Action.REVISE, True, "text", None, False)),
    (HEALTH, [v("dosing-limits", False)], {"rounds": 2}, (Action.REVISE, True, "text", None,
                                                           False)),
    (HEALTH, [], {"error": "timeout"}, (Action.ERROR, False, "refusal", "supervisor", False)),
    (LENIENT, [], {"error": "timeout"}, (Action.ERROR, True, "original", "supervisor", False)),
    (HEALTH, [], {"error": "down", "failure": "primary"},
     (Action.ERROR, False, "refusal", "primary", False)),
    (LENIENT, [], {"error": "down", "failure": "primary"},
     (Action.ERROR, False, "refusal", "primary", False)),
    (replace(HEALTH, defaults=Defaults(require_judge=True)), [], {"unevaluated": ["x"]},
     (Action.ERROR, False, "refusal", "supervisor", False)),
])
def test_policy_table_of_outcomes(constitution: Constitution, verdicts: list[Verdict],
                                  options: dict[str, Any],
                                  expected: tuple[Action, bool, str, str | None, bool]) -> None:
    """Each row: the action, whether the answer is released, which text stands in the
    output, who failed, and whether another revision round is due."""
    r = decide(verdicts, constitution, **options)
    assert (r.action, r.released, r.shows, r.failure, r.again) == expected


def test_unrepairable_revision_is_a_block_that_says_why() -> None:
    """A revision nothing can make names the principles and the missing remedy."""
    ruling = decide(REVISE_ONE, HEALTH, unrepairable=True)
    assert ruling.principles == ("emergency-referral",)
    assert ruling.reason == ("no local remedy for emergency-referral and no supervisor model "
                             "configured to rewrite the answer")


def test_revised_text_that_still_flags_keeps_its_flags() -> None:
    """A revised answer that passes but for a flag is a revise carrying the flag."""
    ruling = decide([v("not-a-substitute")], flagged(HEALTH), rounds=1)
    assert ruling.action is Action.REVISE and ruling.flags == ("not-a-substitute",)
    assert not ruling.again
