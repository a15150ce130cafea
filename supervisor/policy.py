"""The decision policy: a pure function from verdicts to an action and what is shown.

Kept free of I/O and models so it can be pinned by a table of cases (tests/test_policy.py).
Every rule that picks the action lives here, and nowhere else:

- errors outrank everything, because a supervisor that could not decide has not shown the
  answer is safe; `on_error: allow` releases the text as it came in, unless the primary
  model failed (there is no answer to release);
- then block > escalate > revise > allow (flags recorded);
- a revise that is still needed after `max_revisions` rounds, or that nothing can make
  (no local remedy and no supervisor model to rewrite), becomes a block;
- an answer that was revised and now passes is a revise, not an allow.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace

from supervisor.constitution import Constitution
from supervisor.decision import Action, Failure, Ruling, Verdict


def decide(  # noqa: PLR0911 (one return per rung of the policy ladder)
    verdicts: Iterable[Verdict],
    constitution: Constitution,
    *,
    rounds: int = 0,
    unevaluated: Iterable[str] = (),
    error: str = "",
    failure: Failure = "supervisor",
    unrepairable: bool = False,
) -> Ruling:
    """Rule on one round of verdicts.

    `rounds` is how many revisions have already been made; `unevaluated` names principles
    nobody could check; `error` is why the supervisor could not decide, if it could not,
    and `failure` who failed then; `unrepairable` says the revision this round asks for
    cannot be made (no local remedy, no supervisor model to rewrite the answer).
    """
    if error:
        return _failed(constitution, error, failure)
    missing = tuple(unevaluated)
    if missing and constitution.defaults.require_judge:
        return _failed(constitution, "no supervisor model to judge " + ", ".join(missing)
                       + " and the constitution requires one (defaults.require_judge)",
                       "supervisor", principles=missing)

    by_action: dict[str, list[str]] = {"block": [], "escalate": [], "revise": [], "flag": []}
    for verdict in verdicts:
        if verdict.violated:
            by_action[constitution.principle(verdict.principle).action].append(
                verdict.principle)
    flags = tuple(by_action["flag"])

    if by_action["block"]:
        return _withheld(Action.BLOCK, tuple(by_action["block"]), flags)
    if by_action["escalate"]:
        return Ruling(Action.ESCALATE, tuple(by_action["escalate"]), flags, released=False,
                      shows="escalation")
    if by_action["revise"]:
        revising, limit = tuple(by_action["revise"]), constitution.defaults.max_revisions
        if rounds >= limit:
            return _withheld(Action.BLOCK, revising, flags,
                             f"still violating after {rounds} of {limit} revisions")
        if unrepairable:
            return _withheld(Action.BLOCK, revising, flags,
                             "no local remedy for " + ", ".join(revising) + " and no "
                             "supervisor model configured to rewrite the answer")
        return Ruling(Action.REVISE, revising, flags, again=True)
    if rounds:  # revised, and the revised text passes
        return Ruling(Action.REVISE, (), flags)
    return Ruling(Action.ALLOW, (), flags)


def _withheld(action: Action, principles: tuple[str, ...], flags: tuple[str, ...],
              reason: str = "") -> Ruling:
    return Ruling(action, principles, flags, reason, released=False, shows="refusal")


def _failed(constitution: Constitution, reason: str, failure: Failure, *,
            principles: tuple[str, ...] = ()) -> Ruling:
    """An error: withheld, or (`on_error: allow`) the text released as it came in."""
    if constitution.defaults.on_error == "allow" and failure == "supervisor":
        return Ruling(Action.ERROR, principles, reason=reason, failure=failure,
                      shows="original")
    return Ruling(Action.ERROR, principles, reason=reason, failure=failure, released=False,
                  shows="refusal")


def cite(verdicts: Iterable[Verdict], constitution: Constitution) -> tuple[Verdict, ...]:
    """The verdicts, each carrying its principle's citations (the rules it serves).

    A verdict on a principle this constitution does not hold keeps what it has.
    """
    known = {p.id: tuple(p.citations) for p in constitution.principles}
    return tuple(replace(v, citations=known.get(v.principle, v.citations)) for v in verdicts)
