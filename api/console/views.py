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
