"""What the console shows of a record: filters from a query, the diff, verdicts explained.

Everything here reads the record as the ledger stored it. Texts are the stored texts
(redacted under `store_text: redacted`, absent under `none`): the console has no other
source for them, so it cannot show an identifier the ledger kept out.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from typing import Any

from supervisor.constitution import Constitution

_TOKENS = re.compile(r"\s+|\S+\s*")


@dataclass(frozen=True, slots=True)
class Segment:
    """A run of text in one column of the diff; `changed` runs are highlighted."""

    text: str
    changed: bool


def diff(original: str, released: str) -> tuple[list[Segment], list[Segment]]:
    """Word-level side-by-side diff: (original with removals marked, released with additions).

    Words are compared without their trailing whitespace, so a moved line break is not a
    change; each column joins back to exactly its text.
    """
    a, b = _TOKENS.findall(original), _TOKENS.findall(released)
    matcher = difflib.SequenceMatcher(None, [t.strip() for t in a], [t.strip() for t in b],
                                      autojunk=False)
    left: list[Segment] = []
    right: list[Segment] = []
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        _add(left, "".join(a[i1:i2]), tag != "equal")
        _add(right, "".join(b[j1:j2]), tag != "equal")
    return left, right


def _add(column: list[Segment], text: str, changed: bool) -> None:
    if not text:
        return
    if column and column[-1].changed == changed:
        column[-1] = Segment(column[-1].text + text, changed)
    else:
        column.append(Segment(text, changed))


@dataclass(frozen=True, slots=True)
class Explained:
    """One verdict with its principle's statement and citations, where they are known."""

    verdict: dict[str, Any]
    statement: str
    citations: tuple[str, ...]
    note: str


def explain(verdicts: list[dict[str, Any]], provenance: dict[str, Any],
            loaded: dict[str, Constitution]) -> list[Explained]:
    """Verdicts (violated first) with the wording of the principle each one judged.

    The wording comes from the loaded constitution; when the record was made under
    another version (a different sha256), the page says so rather than pretend.
    """
    stamp = provenance.get("constitution") or {}
    constitution = loaded.get(str(stamp.get("id", "")))
    note = ""
    if constitution is None:
        note = f"constitution {stamp.get('id')!r} is not loaded; its wording is not shown"
    elif constitution.sha256 != stamp.get("sha256"):
        note = (f"wording from version {constitution.version} (loaded now); the record was "
                f"made under version {stamp.get('version')}")
    out = []
    for verdict in sorted(verdicts, key=lambda v: not v.get("violated")):
        statement, citations = "", tuple[str, ...]()
        if constitution is not None:
            try:
                principle = constitution.principle(str(verdict.get("principle")))
                statement, citations = principle.statement, tuple(principle.citations)
            except KeyError:
                pass
        out.append(Explained(verdict, statement, citations, note))
    return out


def versions(records: list[dict[str, Any]]) -> list[str]:
    """Every `id@version` of a constitution that decisions were made under, sorted."""
    seen = {f"{c.get('id')}@{c.get('version')}" for r in records if r["kind"] == "decision"
            for c in [((r.get("body") or {}).get("provenance") or {}).get("constitution")]
            if c}
    return sorted(seen)


def apps(records: list[dict[str, Any]]) -> list[str]:
    return sorted({str(a) for r in records if r["kind"] == "decision"
                   for a in [((r.get("body") or {}).get("context") or {}).get("app_id")] if a})


EXCERPT = 80  # characters of a decision's stored text shown in the decisions list


def excerpt(body: dict[str, Any]) -> str:
    """The start of the text a decision checked, as stored (redacted under the default
    `store_text`), at most EXCERPT characters on one line; "" when no text is stored."""
    texts = body.get("texts") or {}
    text = " ".join(str(texts.get("original") or texts.get("prompt") or "").split())
    if len(text) <= EXCERPT:
        return text
    cut = text[:EXCERPT - 1]
    space = cut.rfind(" ")
    return (cut[:space] if space > EXCERPT // 2 else cut).rstrip() + "…"


@dataclass(frozen=True, slots=True)
class Spend:
    """Model calls, tokens and cost (USD, 0 when unknown) of one model's part."""

    calls: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float = 0.0

    def __add__(self, other: Spend) -> Spend:
        return Spend(self.calls + other.calls, self.input_tokens + other.input_tokens,
                     self.output_tokens + other.output_tokens, self.cost_usd + other.cost_usd)

    def __sub__(self, other: Spend) -> Spend:
        return Spend(max(self.calls - other.calls, 0),
                     max(self.input_tokens - other.input_tokens, 0),
                     max(self.output_tokens - other.output_tokens, 0),
                     max(self.cost_usd - other.cost_usd, 0.0))

    @property
    def tokens(self) -> int:
        return self.input_tokens + self.output_tokens


@dataclass(frozen=True, slots=True)
class Split:
    """A decision's usage told apart: the supervisor's (judge, rewrites) and the primary's.

    `exact` is False for records made before `primary_usage` was stored: the primary's
    one call is known from its timing, its tokens and cost are not (counted as the
    supervisor's)."""

    supervisor: Spend
    primary: Spend
    exact: bool = True

    def __add__(self, other: Split) -> Split:
        return Split(self.supervisor + other.supervisor, self.primary + other.primary,
                     self.exact and other.exact)


def split_usage(body: dict[str, Any]) -> Split:
    """Supervisor and primary usage of a decision record (`usage` holds both)."""
    total = _spend(body.get("usage"))
    if "primary_usage" in body:
        primary = _spend(body.get("primary_usage"))
        return Split(total - primary, primary)
    if "primary" in (body.get("timings_ms") or {}):
        primary = Spend(calls=1)
        return Split(total - primary, primary, exact=False)
    return Split(total, Spend())


def _spend(usage: Any) -> Spend:
    usage = usage or {}
    return Spend(int(usage.get("calls") or 0), int(usage.get("input_tokens") or 0),
                 int(usage.get("output_tokens") or 0), float(usage.get("cost_usd") or 0))
