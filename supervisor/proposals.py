"""Four-eyes activation of constitution versions, derived from ledger records alone.

A new version is *proposed* (a `proposal` record carrying the resolved content, its
sha256, the version it replaces and a unified diff), then *approved* or *rejected* by a
different person (an `approval` / `rejection` record naming the proposal); only an
approval leads to a `constitution` (activation) record. Every server worker folds the
same records with `Book.observe`, so any worker can show, approve or activate a
proposal another one recorded, and all agree on its state.

The fold is deterministic: the first decision on a proposal wins; an approval counts
only if, at its place in the ledger, the proposal was pending, its base version was the
active one and the approver is not the proposer, and from there on the approved version
is the active one (the `constitution` record that follows says so too). A pending
proposal whose base is no longer active is `stale` and can only be rejected.
"""

from __future__ import annotations

import difflib
import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Literal

from supervisor.constitution import Constitution, Defaults, Principle

KINDS = ("proposal", "approval", "rejection", "constitution")
State = Literal["pending", "stale", "approved", "rejected"]
SUMMARY_KEYS = 24  # at most this many fields of an attached report are summarised
SUMMARY_CHARS = 1500


def relevant(line: bytes) -> bool:
    """Whether a stored line may be one of the records the fold reads (cheap pre-filter)."""
    return any(b'"kind":"' + kind.encode() + b'"' in line for kind in KINDS)


@dataclass(frozen=True, slots=True)
class Version:
    """A constitution version as the ledger names it: content hash, where it came from."""

    id: str
    version: str
    sha256: str
    record: str = ""  # the record that activated or proposed it
    path: str = ""
    lineage: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Proposal:
    """One proposed version and what became of it."""

    id: str  # the proposal record's id
    ts: str
    constitution: str
    proposer: str
    base: Version
    new: Version
    diff: str
    changes: Mapping[str, Any]
    attachment: Mapping[str, Any] | None = None
    note: str = ""
    source: str = ""
    state: State = "pending"
    decided_by: str = ""
    decided_at: str = ""
    decision: str = ""  # the approval or rejection record's id
    reason: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "ts": self.ts, "constitution": self.constitution,
                "proposer": self.proposer, "state": self.state,
                "base": {"version": self.base.version, "sha256": self.base.sha256},
                "new": {"version": self.new.version, "sha256": self.new.sha256},
                "diff": self.diff, "changes": dict(self.changes),
                "attachment": dict(self.attachment) if self.attachment else None,
                "note": self.note, "source": self.source, "decided_by": self.decided_by,
                "decided_at": self.decided_at, "decision": self.decision,
                "reason": self.reason}


@dataclass
class Book:
    """The proposals and active versions a run of ledger records describes."""

    proposals: dict[str, Proposal] = field(default_factory=dict)
    active: dict[str, Version] = field(default_factory=dict)
    contents: dict[str, Mapping[str, Any]] = field(default_factory=dict)  # sha256 -> content
    next_seq: int = 0  # the first record not yet observed

    def observe_all(self, records: Iterable[Mapping[str, Any]]) -> None:
        for record in records:
            self.observe(record)

    def observe(self, record: Mapping[str, Any]) -> None:
        """Fold one record in (records of other kinds only move `next_seq`)."""
        self.next_seq = max(self.next_seq, int(record["seq"]) + 1)
        kind, body = record["kind"], record.get("body") or {}
        if kind == "proposal":
            self._proposed(record, body)
        elif kind == "approval":
            self._approved(record, body)
        elif kind == "rejection":
            self._rejected(record, body)
        elif kind == "constitution":
            self.active[body["id"]] = Version(
                body["id"], body["version"], body["sha256"], record["id"],
                body.get("path", ""), tuple(body.get("lineage") or ()))
            if isinstance(body.get("content"), Mapping):
                self.contents[body["sha256"]] = body["content"]

    def state(self, proposal: Proposal) -> State:
        """`stale` for a pending proposal whose base version is no longer active."""
        if proposal.state == "pending" and not self._on_base(proposal):
            return "stale"
        return proposal.state

    def open(self) -> list[Proposal]:
        """Pending and stale proposals, newest first, with their current state."""
        return [replace(p, state=self.state(p)) for p in reversed(self.proposals.values())
                if p.state == "pending"]

    def decided(self, limit: int = 20) -> list[Proposal]:
        """The latest approved or rejected proposals, newest first."""
        return [p for p in reversed(self.proposals.values())
                if p.state in ("approved", "rejected")][:limit]

    def get(self, proposal_id: str) -> Proposal | None:
        found = self.proposals.get(proposal_id)
        return replace(found, state=self.state(found)) if found is not None else None

    def waiting(self, constitution: str, sha256: str, base_sha256: str) -> Proposal | None:
        """A pending proposal of exactly this change, if one is open already."""
        return next((p for p in self.open() if p.constitution == constitution
                     and p.new.sha256 == sha256 and p.base.sha256 == base_sha256
                     and p.state == "pending"), None)

    def _on_base(self, proposal: Proposal) -> bool:
        active = self.active.get(proposal.constitution)  # none yet: a new constitution
        return (active.sha256 if active else "") == proposal.base.sha256

    def _proposed(self, record: Mapping[str, Any], body: Mapping[str, Any]) -> None:
        base, new = body["base"], body["new"]
        cid = body["constitution"]
        self.proposals[record["id"]] = Proposal(
            id=record["id"], ts=record["ts"], constitution=cid, proposer=body["proposer"],
            base=Version(cid, base["version"], base["sha256"]),
            new=Version(cid, new["version"], new["sha256"], record["id"], new.get("path", ""),
                        tuple(new.get("lineage") or ())),
            diff=body.get("diff", ""), changes=body.get("changes") or {},
            attachment=body.get("attachment"), note=body.get("note", ""),
            source=body.get("source", ""))
        if isinstance(body.get("content"), Mapping):
            self.contents[new["sha256"]] = body["content"]

    def _approved(self, record: Mapping[str, Any], body: Mapping[str, Any]) -> None:
        found = self.proposals.get(body.get("proposal", ""))
        if (found is None or found.state != "pending" or not self._on_base(found)
                or body.get("approver") == found.proposer):
            return  # void: decided already, stale, or the proposer's own
        self.proposals[found.id] = replace(found, state="approved", decided_by=body["approver"],
                                           decided_at=record["ts"], decision=record["id"],
                                           reason=body.get("note", ""))
        # the approval is the activation point: an approval racing it on another worker,
        # of another proposal on the same base, comes later in the ledger and is stale
        self.active[found.constitution] = found.new

    def _rejected(self, record: Mapping[str, Any], body: Mapping[str, Any]) -> None:
        found = self.proposals.get(body.get("proposal", ""))
        if found is None or found.state != "pending":
            return
        self.proposals[found.id] = replace(found, state="rejected",
                                           decided_by=body["rejected_by"],
                                           decided_at=record["ts"], decision=record["id"],
                                           reason=body.get("reason", ""))


def content_of(constitution: Constitution) -> dict[str, Any]:
    """The resolved content as JSON data: what the sha256 is taken of."""
    content: dict[str, Any] = json.loads(constitution.canonical)
    return content


def rebuilt(content: Mapping[str, Any], *, path: str = "",
            lineage: tuple[str, ...] = ()) -> Constitution:
    """The Constitution a recorded content describes (its sha256 is the recorded one)."""
    return Constitution(
        id=content["id"], version=content["version"], title=content["title"],
        defaults=Defaults.model_validate(content["defaults"]),
        principles=tuple(Principle.model_validate(p) for p in content["principles"]),
        path=path, lineage=lineage)


def unified_diff(old: Constitution, new: Constitution) -> str:
    """A unified diff of the two canonical contents, pretty-printed (sorted keys)."""
    def lines(c: Constitution) -> list[str]:
        return json.dumps(content_of(c), indent=2, sort_keys=True,
                          ensure_ascii=False).splitlines()

    return "\n".join(difflib.unified_diff(
        lines(old), lines(new), f"{old.id} {old.version} ({old.sha256[:12]})",
        f"{new.id} {new.version} ({new.sha256[:12]})", lineterm=""))


def changes(old: Constitution, new: Constitution) -> dict[str, Any]:
    """Principles added, removed and changed (with the changed fields), defaults changed:
    the same comparison as `supervisor constitution diff`."""
    before = {p.id: p.model_dump(mode="json") for p in old.principles}
    after = {p.id: p.model_dump(mode="json") for p in new.principles}
    a, b = old.defaults.model_dump(mode="json"), new.defaults.model_dump(mode="json")
    return {
        "added": sorted(after.keys() - before.keys()),
        "removed": sorted(before.keys() - after.keys()),
        "changed": {pid: sorted(k for k in after[pid] if before[pid].get(k) != after[pid][k])
                    for pid in sorted(before.keys() & after.keys())
                    if before[pid] != after[pid]},
        "defaults": sorted(k for k in set(a) | set(b) if a.get(k) != b.get(k)),
    }


def attachment_of(text: str, *, proposed: str = "") -> dict[str, Any]:
    """An attached report (a `supervisor replay --json` output, or Markdown) as the ledger
    keeps it: its sha256, size, format and a short summary of its figures. The report
    itself is not stored; whoever holds it can check it against the sha256. A replay
    report names the version it replayed (`target.sha256`): `matches_proposal` says
    whether that is the `proposed` sha256."""
    data = text.encode("utf-8")
    found: dict[str, Any] = {"sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data)}
    try:
        parsed = json.loads(text)
    except ValueError:
        parsed = None
    if isinstance(parsed, (dict, list)):
        found["format"] = "json"
        found["summary"] = _figures(parsed)
        target = parsed.get("target") if isinstance(parsed, dict) else None
        if proposed and isinstance(target, dict) and "sha256" in target:
            found["matches_proposal"] = target["sha256"] == proposed
    else:
        found["format"] = "markdown"
        kept = [line.rstrip() for line in text.splitlines() if line.strip()][:12]
        found["summary"] = "\n".join(kept)[:SUMMARY_CHARS]
    return found


def _figures(parsed: dict[str, Any] | list[Any]) -> dict[str, Any]:
    """The scalar fields of a JSON report: lists as their lengths, flat maps kept whole,
    maps of {before, after} (a replay's actions and principles) as "before → after",
    only the changed ones when there are many."""
    if isinstance(parsed, list):
        return {"items": len(parsed)}
    figures: dict[str, Any] = {}
    for key, value in list(parsed.items())[:SUMMARY_KEYS]:
        if isinstance(value, str):
            figures[key] = value[:200]
        elif value is None or isinstance(value, (bool, int, float)):
            figures[key] = value
        elif isinstance(value, list):
            figures[key] = f"{len(value)} items"
        elif isinstance(value, dict) and value and all(
                isinstance(v, dict) and {"before", "after"} <= set(v) for v in value.values()):
            moved = {k: v for k, v in value.items() if v["before"] != v["after"]}
            shown = value if len(value) <= SUMMARY_KEYS else moved
            figures[key] = {k: f"{v['before']} → {v['after']}"
                            for k, v in list(shown.items())[:SUMMARY_KEYS]}
        elif isinstance(value, dict) and len(value) <= SUMMARY_KEYS and all(
                v is None or isinstance(v, (str, bool, int, float)) for v in value.values()):
            figures[key] = {k: v[:200] if isinstance(v, str) else v for k, v in value.items()}
        elif isinstance(value, dict):
            figures[key] = f"{len(value)} entries"
    return figures


__all__ = ["KINDS", "Book", "Proposal", "State", "Version", "attachment_of", "changes",
           "content_of", "rebuilt", "relevant", "unified_diff"]
