"""The evidence summary's facts, computed once and rendered twice (HTML and PDF).

An examiner reads the summary first: which period and filters, how many decisions of
each action, which principles fired and which rules (citations) they served, whether
the chain shipped in the zip verified with the trusted key, and how to check all that
offline themselves. The citations are read from the records' own verdicts, so they are
the rules as they stood when each decision was made; decisions recorded before verdicts
carried citations are counted apart rather than guessed from today's constitution.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from supervisor.ledger.export import cited, fired

OFFLINE_HEADING = "How to verify offline"
FILTER_NAMES = {"action": "Action", "app": "App", "principle": "Principle",
                "constitution": "Constitution", "kind": "Kind"}


@dataclass(frozen=True, slots=True)
class Tally:
    """One row of a count table: a label and how many decisions (or records) it has."""

    label: str
    count: int


@dataclass(frozen=True, slots=True)
class Listed:
    """One record in the summary's list."""

    seq: int
    ts: str
    id: str
    kind: str
    action: str
    principles: str
    citations: str

    @property
    def second(self) -> str:
        """The time to the second (`2026-11-23 09:30:00`): the list's column; the CSV and
        JSONL keep the microseconds."""
        return self.ts[:19].replace("T", " ")


@dataclass(frozen=True, slots=True)
class EvidenceReport:
    """Everything the summary says. `verify` is `VerifyReport.to_dict()` of the zip's chain."""

    generated: str
    actor: str
    period: tuple[str, str]
    filters: str  # the narrowing filters, `Action = escalate; App = clinic-bot`, or `none`
    records: int
    decisions: int
    kinds: tuple[Tally, ...]
    actions: tuple[Tally, ...]
    principles: tuple[Tally, ...]
    citations: tuple[Tally, ...]
    uncited: int
    verify: Mapping[str, Any]
    chain_size: int
    head: str
    shipped_checkpoints: int
    public_key: str
    ledger_dir: str
    offline: str
    listing: tuple[Listed, ...]

    @property
    def period_text(self) -> str:
        return f"{self.period[0] or 'the beginning'} to {self.period[1] or 'now'}"


def build(records: list[dict[str, Any]], *, period: tuple[str, str],
          filters: Mapping[str, str], verify: Mapping[str, Any], generated: str, actor: str,
          chain_size: int, head: str, shipped_checkpoints: int, public_key: str,
          ledger_dir: str, readme: str) -> EvidenceReport:
    """The summary of the period's `records`; `readme` is the zip's rendered README.txt,
    whose offline steps the summary repeats word for word."""
    decisions = [r.get("body") or {} for r in records if r["kind"] == "decision"]
    citations: Counter[str] = Counter()
    uncited = 0
    for body in decisions:
        rules = cited(body)
        citations.update(rules)
        if fired(body) and not rules:
            uncited += 1
    chosen = [f"{FILTER_NAMES.get(k, k)} = {v.strip()}" for k, v in filters.items()
              if v and v.strip() and k not in ("since", "until")]
    return EvidenceReport(
        generated=generated, actor=actor, period=period,
        filters="; ".join(chosen) or "none",
        records=len(records), decisions=len(decisions),
        kinds=_tallies(Counter(r["kind"] for r in records)),
        actions=_tallies(Counter(str(b.get("action")) for b in decisions)),
        principles=_tallies(Counter(p for b in decisions for p in fired(b))),
        citations=_tallies(citations), uncited=uncited, verify=dict(verify),
        chain_size=chain_size, head=head, shipped_checkpoints=shipped_checkpoints,
        public_key=public_key, ledger_dir=ledger_dir, offline=offline_steps(readme),
        listing=tuple(_listed(r) for r in records))


def offline_steps(readme: str) -> str:
    """The README's "How to verify offline" section (heading and underline left out)."""
    _, found, rest = readme.partition(OFFLINE_HEADING)
    if not found:
        return readme.strip()
    lines = rest.splitlines()
    while lines and set(lines[0].strip()) <= {"-"}:  # the rest of the heading line, its rule
        lines.pop(0)
    return "\n".join(lines).rstrip()


def _tallies(counts: Counter[str]) -> tuple[Tally, ...]:
    """Most frequent first, ties by label, so the same records give the same tables."""
    return tuple(Tally(label, n) for label, n in sorted(counts.items(),
                                                        key=lambda kv: (-kv[1], kv[0])))


def _listed(record: dict[str, Any]) -> Listed:
    body = record.get("body") or {}
    decision = record["kind"] == "decision"
    return Listed(int(record["seq"]), str(record["ts"]), str(record["id"]), str(record["kind"]),
                  str(body.get("action", "")) if decision else "",
                  ", ".join(fired(body)) if decision else "",
                  "; ".join(cited(body)) if decision else "")
