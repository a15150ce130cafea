"""The decision policy as a table: block > escalate > revise > allow; errors outrank all."""

from __future__ import annotations

from dataclasses import replace

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
