"""The decision policy: a pure function from verdicts to an action.

Kept free of I/O and models so it can be pinned by a table of cases (tests/test_policy.py).
Order of precedence: block > escalate > revise > allow (flags recorded). A revise that is
still needed after `max_revisions` rounds becomes a block. Errors outrank everything,
because a supervisor that could not decide has not shown the answer is safe.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace

from supervisor.constitution import Constitution
from supervisor.decision import Action, Ruling, Verdict


def decide(  # noqa: PLR0911 (one return per rung of the policy ladder)
    verdicts: Iterable[Verdict],
    constitution: Constitution,
    *,
    rounds: int = 0,
    unevaluated: Iterable[str] = (),
    error: str = "",
) -> Ruling:
    """Rule on one round of verdicts.

    `rounds` is how many revisions have already been made; `unevaluated` names principles
    nobody could check; `error` is why the supervisor could not decide, if it could not.
    """
    if error:
        return Ruling(Action.ERROR, reason=error)
    missing = tuple(unevaluated)
    if missing and constitution.defaults.require_judge:
        return Ruling(Action.ERROR, principles=missing,
                      reason="no supervisor model to judge " + ", ".join(missing)
                      + " and the constitution requires one (defaults.require_judge)")

    by_action: dict[str, list[str]] = {"block": [], "escalate": [], "revise": [], "flag": []}
    for verdict in verdicts:
        if verdict.violated:
            by_action[constitution.principle(verdict.principle).action].append(
                verdict.principle)
    flags = tuple(by_action["flag"])

    if by_action["block"]:
        return Ruling(Action.BLOCK, tuple(by_action["block"]), flags)
    if by_action["escalate"]:
        return Ruling(Action.ESCALATE, tuple(by_action["escalate"]), flags)
    if by_action["revise"]:
        limit = constitution.defaults.max_revisions
        if rounds >= limit:
            return Ruling(Action.BLOCK, tuple(by_action["revise"]), flags,
                          reason=f"still violating after {rounds} of {limit} revisions")
        return Ruling(Action.REVISE, tuple(by_action["revise"]), flags)
    return Ruling(Action.ALLOW, (), flags)


def cite(verdicts: Iterable[Verdict], constitution: Constitution) -> tuple[Verdict, ...]:
    """The verdicts, each carrying its principle's citations (the rules it serves).

    A verdict on a principle this constitution does not hold keeps what it has.
    """
    known = {p.id: tuple(p.citations) for p in constitution.principles}
    return tuple(replace(v, citations=known.get(v.principle, v.citations)) for v in verdicts)
