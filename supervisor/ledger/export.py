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
from datetime import UTC, date, datetime, time
from typing import Any

from supervisor.errors import ConfigError
from supervisor.ledger.canonical import canonical

CSV_COLUMNS = ("seq", "id", "ts", "kind", "stage", "action", "released", "violated",
               "citations", "constitution", "constitution_version", "app_id", "reason",
               "hash")
CITATION_SEPARATOR = "; "  # citations hold commas ("Gramm-Leach-Bliley Act, 16 CFR 314")


@dataclass(frozen=True, slots=True)
class Filter:
    """Which records to keep; empty fields match everything.

    `since` and `until` are ISO 8601 dates or times (`2026-11-23`, `2026-11-23T09:30Z`,
    `2026-11-23T10:30:00+01:00`; no offset means UTC), held in the ledger's own timestamp
    form so they compare as text; a bare date in `until` means the end of that day, and
    anything else raises ConfigError naming the field and the accepted form (a typo must
    not read as "no records"). `constitution` may name a version (`finance@1.3.0`);
    `principle` matches a decision it fired in, including one it was revised away in
    (what an examiner asks: "when did this principle act?").
    """

    since: str = ""
    until: str = ""
    kind: str = ""
    action: str = ""
    principle: str = ""
    constitution: str = ""
    app: str = ""
    stage: str = ""
    user_ref: str = ""

    def __post_init__(self) -> None:
        for name in ("since", "until"):  # frozen: normalised once, here
            object.__setattr__(self, name, moment(getattr(self, name), name=name,
                                                  end=name == "until"))

    @classmethod
    def of(cls, fields: Mapping[str, str], *, kind: str = "") -> Filter:
        """From form or query fields (missing ones match everything)."""
        values = {name: (fields.get(name) or "").strip() for name in _FIELDS}
        return cls(**{**values, "kind": kind or values["kind"]})

    def __call__(self, record: dict[str, Any]) -> bool:
        body = record.get("body") or {}
        provenance = (body.get("provenance") or {}).get("constitution") or {}
        constitution, _, version = self.constitution.partition("@")
        return all((
            not self.since or record["ts"] >= self.since,
            not self.until or record["ts"] <= self.until,
            not self.kind or record["kind"] == self.kind,
            not self.action or body.get("action") == self.action,
            not self.principle or self.principle in fired(body),
            not constitution or provenance.get("id") == constitution,
            not version or provenance.get("version") == version,
            not self.app or (body.get("context") or {}).get("app_id") == self.app,
            not self.stage or body.get("stage") == self.stage,
            not self.user_ref or (body.get("context") or {}).get("user_ref") == self.user_ref,
        ))


_FIELDS = ("since", "until", "kind", "action", "principle", "constitution", "app", "stage",
           "user_ref")
TIME_FORMAT = "ISO 8601, e.g. 2026-11-01 or 2026-11-01T09:30:00Z (no offset means UTC)"


def moment(value: str, *, name: str, end: bool = False) -> str:
    """`value` as the ledger's timestamp form (`2026-11-01T09:30:00.000000Z`), "" for "".

    A bare date is its first microsecond, or its last with `end`. Raises ConfigError
    naming `name` and the accepted form for anything that is not an ISO 8601 date or time.
    """
    text = value.strip()
    if not text:
        return ""
    try:
        day = date.fromisoformat(text)
    except ValueError:
        try:
            when = datetime.fromisoformat(text.replace("z", "Z"))
        except ValueError:
            raise ConfigError(f"{name}={value!r} is not a date or time; use {TIME_FORMAT}"
                              ) from None
    else:
        when = datetime.combine(day, time.max if end else time.min)
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return when.astimezone(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def fired(body: dict[str, Any]) -> list[str]:
    """Principles that fired in a decision: violated at the end, or revised away on the way."""
    found = list(body.get("violated") or [])
    for revision in body.get("revisions") or []:
        found += [p for p in revision.get("principles") or [] if p not in found]
    return found


def cited(body: dict[str, Any]) -> list[str]:
    """The distinct citations of the principles that fired in a decision, in verdict order.

    Read from the record's own verdicts, so they are the rules as they stood when it was
    decided; a record made before verdicts carried citations gives none.
    """
    principles = set(fired(body))
    found: dict[str, None] = {}
    for verdict in body.get("verdicts") or []:
        if verdict.get("principle") in principles:
            found.update(dict.fromkeys(str(c) for c in verdict.get("citations") or []))
    return list(found)


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
        "citations": CITATION_SEPARATOR.join(cited(body)),
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
