"""Replay: re-decide past exchanges under another constitution and say what changes.

The compliance office's question before a rule change takes effect: "what would this
version have done to last month's traffic?". `replay` takes stored decision records (the
caller selects them with `supervisor.ledger.export.Filter`), re-decides each one's stored
text under the target constitution with the local detectors (and a supervisor model only
when one is given), and returns a `Replay`: counts per action and per principle before
and after, the records whose action flips, and the records that could not be replayed
faithfully (see supervisor.replay.exchanges). Nothing is recorded per exchange; the CLI
appends one `replay` record naming the run (`replay_body`).
"""

from __future__ import annotations

import time
import warnings
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from supervisor.constitution import Constitution
from supervisor.replay.exchanges import Replayable, Unreplayable, exchange_of
from supervisor.replay.runners import Local, Ray, Runner
from supervisor.replay.work import Job, Replayed

ACTIONS = ("allow", "revise", "block", "escalate", "error")
CHUNK = 250  # exchanges per task: big enough to amortise a task, small enough to spread


@dataclass(frozen=True, slots=True)
class Replay:
    """What a replay found, and how it ran (`runner`, `tasks`, `seconds`: not part of
    `figures`, which are the same wherever the replay ran)."""

    target: Constitution
    outcomes: tuple[Replayed, ...]
    skipped: tuple[Unreplayable, ...]
    supervisor: tuple[str, ...] = ()
    judged_before: int = 0
    redacted: int = 0
    runner: str = ""
    tasks: int = 0
    seconds: float = 0.0

    @property
    def flips(self) -> tuple[Replayed, ...]:
        return tuple(o for o in self.outcomes if o.flipped)

    def figures(self) -> dict[str, Any]:
        """The findings as JSON data; the same wherever and however fast the replay ran."""
        before = Counter(o.before for o in self.outcomes)
        after = Counter(o.after for o in self.outcomes)
        fired_before = Counter(p for o in self.outcomes for p in o.before_fired)
        fired_after = Counter(p for o in self.outcomes for p in o.after_fired)
        principles = [p.id for p in self.target.principles]
        principles += sorted(set(fired_before) - set(principles))  # gone from the target
        return {
            "target": {"id": self.target.id, "version": self.target.version,
                       "sha256": self.target.sha256},
            "supervisor": ",".join(self.supervisor) or None,
            "counts": {
                "selected": len(self.outcomes) + len(self.skipped),
                "replayed": len(self.outcomes),
                "not_replayable": len(self.skipped),
                "flipped": len(self.flips),
                "principles_changed": sum(1 for o in self.outcomes if not o.flipped
                                          and set(o.before_fired) != set(o.after_fired)),
                "replayed_from_redacted_text": self.redacted,
            },
            "actions": {a: {"before": before[a], "after": after[a]} for a in ACTIONS},
            "principles": {p: {"before": fired_before[p], "after": fired_after[p]}
                           for p in principles},
            "transitions": dict(sorted(Counter(f"{o.before}->{o.after}"
                                               for o in self.flips).items())),
            "flips": [_flip(o) for o in self.flips],
            "not_replayable": _unreplayable(self.skipped),
            "caveats": self.caveats(),
        }

    def caveats(self) -> list[str]:
        """What a reader must know before trusting the figures."""
        notes = []
        judge_ids = [p.id for p in self.target.principles if "judge" in p.kinds()]
        if judge_ids and not self.supervisor:
            notes.append("no supervisor model was given (--supervisor), so the judge part of "
                         + ", ".join(judge_ids) + " did not run; only local checks decided")
        if self.judged_before and not self.supervisor:
            notes.append(f"{self.judged_before} replayed decisions were made with a "
                         "supervisor model; their judge verdicts were not re-asked")
        if self.redacted:
            notes.append(f"{self.redacted} records were replayed on their redacted text "
                         "(identifiers as placeholders such as <US_SSN>); no principle of "
                         "theirs has a pii check")
        return notes


@dataclass(frozen=True, slots=True)
class Selection:
    """Selected decision records as what can be replayed and what cannot: only the texts
    and outcomes a replay needs, so a long selection is held in a fraction of its size."""

    exchanges: tuple[Replayable, ...]
    skipped: tuple[Unreplayable, ...]

    def __len__(self) -> int:
        return len(self.exchanges) + len(self.skipped)


def selection(records: Iterable[dict[str, Any]], target: Constitution) -> Selection:
    """The decision records among `records`, sorted into exchanges and unreplayables."""
    exchanges: list[Replayable] = []
    skipped: list[Unreplayable] = []
    for record in records:
        if record.get("kind") == "decision":
            found = exchange_of(record, target)
            if isinstance(found, Replayable):
                exchanges.append(found)
            else:
                skipped.append(found)
    return Selection(tuple(exchanges), tuple(skipped))


def replay(records: Iterable[dict[str, Any]] | Selection, target: Constitution, *,
           supervisor: Sequence[str] = (), runner: Runner | None = None,
           chunk: int = CHUNK, deadline_s: float = 30.0,
           call_timeout_s: float = 20.0) -> Replay:
    """Re-decide the decision records in `records` under `target` (see the module doc).

    A bad `supervisor` reference fails here, once, before any worker starts.
    """
    if supervisor:
        from supervisor.providers.registry import resolve

        resolve(tuple(supervisor), timeout=call_timeout_s)
    chosen = records if isinstance(records, Selection) else selection(records, target)
    exchanges = chosen.exchanges
    jobs = [Job(target, exchanges[i:i + chunk], tuple(supervisor), deadline_s,
                call_timeout_s) for i in range(0, len(exchanges), max(chunk, 1))]
    where = runner or Local()
    started = time.perf_counter()
    outcomes = [o for done in where.run(jobs) for o in done] if jobs else []
    return Replay(target, tuple(sorted(outcomes, key=lambda o: o.seq)),
                  tuple(sorted(chosen.skipped, key=lambda s: s.seq)), tuple(supervisor),
                  judged_before=sum(1 for e in exchanges if e.judged),
                  redacted=sum(1 for e in exchanges if not e.verbatim),
                  runner=where.name, tasks=len(jobs), seconds=time.perf_counter() - started)


def _flip(o: Replayed) -> dict[str, Any]:
    return {"record": o.record_id, "seq": o.seq, "before": o.before, "after": o.after,
            "gained": [p for p in o.after_fired if p not in o.before_fired],
            "lost": [p for p in o.before_fired if p not in o.after_fired]}


def _unreplayable(skipped: Sequence[Unreplayable]) -> dict[str, Any]:
    return {
        "by_reason": dict(sorted(Counter(s.reason for s in skipped).items())),
        "by_principle": dict(sorted(Counter(p for s in skipped
                                            for p in s.principles).items())),
        "records": [{"record": s.record_id, "seq": s.seq, "action": s.action,
                     "reason": s.reason, "principles": list(s.principles)}
                    for s in skipped],
    }


def __getattr__(name: str) -> Any:
    """Old names with a DeprecationWarning: `Exchange` (now `Replayable`), `Outcome` (now
    `Replayed`)."""
    if name == "Outcome":
        warnings.warn("supervisor.replay.Outcome is deprecated; use Replayed",
                      DeprecationWarning, stacklevel=2)
        return Replayed
    if name == "Exchange":
        warnings.warn("supervisor.replay.Exchange is deprecated; use Replayable (Exchange "
                      "is the detectors' prompt and answer)", DeprecationWarning, stacklevel=2)
        return Replayable
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["Local", "Ray", "Replay", "Replayable", "Replayed", "Runner", "Selection",
           "Unreplayable", "replay", "selection"]
