"""Reading the ledger for people: filters, and CSV / JSONL export.

Filters match what compliance officers ask for: a time range, an action, a principle, a
constitution, an app, a kind. Timestamps are ISO 8601 UTC strings, which sort as text.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from supervisor.ledger.canonical import canonical

CSV_COLUMNS = ("seq", "id", "ts", "kind", "stage", "action", "released", "violated",
               "constitution", "constitution_version", "app_id", "reason", "hash")


@dataclass(frozen=True, slots=True)
class Filter:
    """Which records to keep; empty fields match everything.

    `until` as a bare date (`2026-11-23`) means the end of that day; `constitution` may
    name a version (`finance@1.3.0`); `principle` matches a decision it fired in, including
    one it was revised away in (what an examiner asks: "when did this principle act?").
    """

    since: str = ""
    until: str = ""
    kind: str = ""
    action: str = ""
    principle: str = ""
    constitution: str = ""
    app: str = ""

    @classmethod
    def of(cls, fields: Mapping[str, str], *, kind: str = "") -> Filter:
        """From form or query fields (missing ones match everything)."""
        values = {name: (fields.get(name) or "").strip() for name in _FIELDS}
        return cls(**{**values, "kind": kind or values["kind"]})

    def __call__(self, record: dict[str, Any]) -> bool:
        body = record.get("body") or {}
        provenance = (body.get("provenance") or {}).get("constitution") or {}
        constitution, _, version = self.constitution.partition("@")
        until = f"{self.until}T23:59:59.999999Z" if len(self.until) == 10 else self.until
        return all((
            not self.since or record["ts"] >= self.since,
            not until or record["ts"] <= until,
            not self.kind or record["kind"] == self.kind,
            not self.action or body.get("action") == self.action,
            not self.principle or self.principle in fired(body),
            not constitution or provenance.get("id") == constitution,
            not version or provenance.get("version") == version,
            not self.app or (body.get("context") or {}).get("app_id") == self.app,
        ))


_FIELDS = ("since", "until", "kind", "action", "principle", "constitution", "app")


def fired(body: dict[str, Any]) -> list[str]:
    """Principles that fired in a decision: violated at the end, or revised away on the way."""
    found = list(body.get("violated") or [])
    for revision in body.get("revisions") or []:
        found += [p for p in revision.get("principles") or [] if p not in found]
    return found


def select(records: Iterable[dict[str, Any]], keep: Filter) -> Iterator[dict[str, Any]]:
    return (r for r in records if keep(r))


def row(record: dict[str, Any]) -> dict[str, Any]:
    """The flat CSV view of one record."""
    body = record.get("body") or {}
    provenance = (body.get("provenance") or {}).get("constitution") or {}
    return {
        "seq": record["seq"], "id": record["id"], "ts": record["ts"], "kind": record["kind"],
        "stage": body.get("stage", ""), "action": body.get("action", ""),
        "released": body.get("released", ""), "violated": ";".join(body.get("violated") or []),
        "constitution": provenance.get("id", ""),
        "constitution_version": provenance.get("version", ""),
        "app_id": (body.get("context") or {}).get("app_id", ""),
        "reason": body.get("reason", ""), "hash": record["hash"],
    }


def to_csv(records: Iterable[dict[str, Any]]) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=CSV_COLUMNS)
    writer.writeheader()
    for record in records:
        writer.writerow(row(record))
    return buffer.getvalue()


def to_jsonl(records: Iterable[dict[str, Any]]) -> str:
    """The records exactly as stored (canonical lines), so exported hashes still verify."""
    return "".join(canonical(r).decode() + "\n" for r in records)


def loads(line: str) -> dict[str, Any]:
    value: dict[str, Any] = json.loads(line)
    return value
