"""Which constitution versions a service serves, and the four-eyes path to change one.

A changed version becomes active only through the ledger: an admin proposes it (a
`proposal` record), a different person (admin or auditor) approves it (an `approval`
record), and the approving worker appends the `constitution` activation record naming
both. A rejection (with its reason) closes a proposal. The state of every proposal is
folded from those records (`supervisor.proposals.Book`), never kept only in memory, so
a proposal made on one worker is approved on another; every worker follows the ledger
(`follow`: new records only, read from the store by seq) on each proposal request and
every `FOLLOW_S` seconds in the background, and swaps in a version activated elsewhere.

At start, a constitution whose file differs from the version the ledger last activated
is served as the ledger says (its content is in that record), with a warning: a file
edited on disk never becomes active by a restart. `reload` proposes each changed file;
only break-glass (`reload(break_glass=True, reason=...)`) activates alone, and writes a
`constitution` record with `break_glass: true` and the reason, and a warning log line.
Reading a proposed version (posted YAML, its file, a record) is `api.proposed`.
"""

from __future__ import annotations

import asyncio
import heapq
import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

import structlog

from api import proposed
from api.errors import ApiError
from supervisor.constitution import Constitution, load_constitution, shipped
from supervisor.detectors import preload
from supervisor.ledger import Ledger, Store
from supervisor.ledger.export import Filter
from supervisor.ledger.index import Query, ScanQuery
from supervisor.proposals import (
    KINDS,
    Book,
    Proposal,
    attachment_of,
    changes,
    content_of,
    rebuilt,
    relevant,
    unified_diff,
)

if TYPE_CHECKING:
    from api.service import Service

log = structlog.get_logger("api.activation")
FOLLOW_S = 2.0  # how often a worker looks for activations recorded by other workers
BUSY_FOLLOW_S = 0.25  # ... while records arrive fast: the store finds recent seqs by seeking
BUSY = 64  # records read by one look that make the next look come sooner


class Person(Protocol):
    """Who acts: an API key's caller or a console reader (the name is what is recorded)."""

    @property
    def name(self) -> str: ...

    @property
    def role(self) -> str: ...


@dataclass(frozen=True, slots=True)
class Reloaded:
    """What a reload did: proposals made (or found open), activations (break-glass only),
    and files that could not be proposed, with why."""

    proposals: list[Proposal] = field(default_factory=list)
    activated: list[Constitution] = field(default_factory=list)
    refused: list[dict[str, str]] = field(default_factory=list)


class Activation:
    """The service's constitutions: loaded at start, changed only through the ledger."""

    def __init__(self, service: Service) -> None:
        self.service = service
        self.book = Book()
        self._lock = asyncio.Lock()
        self._served: dict[str, str] = {}  # constitution id -> the ledger's sha256 applied

    # -- following the ledger ---------------------------------------------------------

    async def follow(self) -> int:
        """Fold records appended since the last look (by any worker); apply activations.
        Returns how many records were read.

        The first look (at start) reads the fold's kinds through the ledger's index, so
        it costs the activation and proposal records, not the ledger's length; later
        looks read the records appended since, from the store by seq."""
        async with self._lock:
            start = self.book.next_seq
            picked, end, count = await asyncio.to_thread(_read, self.service.ledger, start)
            for record in picked:
                self._observe(record)
            self.book.next_seq = max(self.book.next_seq, end)
            await self._apply()
            return count

    def _observe(self, record: dict[str, Any]) -> None:
        """Fold one record in; one this version cannot read (a field missing, appended
        by a script, say) is skipped with a warning rather than stopping the service."""
        try:
            self.book.observe(record)
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            log.warning("constitution_record_unreadable", record=record.get("id"),
                        kind=record.get("kind"), error=f"{type(exc).__name__}: {exc}")

    async def follow_loop(self) -> None:
        """For a server: `follow` every FOLLOW_S seconds, run as a task (cancel to stop).

        Sooner while records arrive fast: the JSONL store seeks straight to the seqs it
        saw recently, and a look that started further back would read its segment
        from the top."""
        pause = FOLLOW_S
        while True:
            await asyncio.sleep(pause)
            try:
                pause = BUSY_FOLLOW_S if await self.follow() >= BUSY else FOLLOW_S
            except Exception as exc:  # tried again next tick; the loop must not die
                log.warning("constitution_follow_failed", error=f"{type(exc).__name__}: {exc}")

    async def _apply(self) -> None:
        """Serve the version the ledger last activated, for every constitution we serve."""
        for cid, active in list(self.book.active.items()):
            current = self.service.constitutions.get(cid)
            if current is None or self._served.get(cid, current.sha256) == active.sha256:
                continue
            self._served[cid] = active.sha256  # tried once, whatever comes of it
            content = self.book.contents.get(active.sha256)
            if content is None:
                log.warning("constitution_content_unrecorded", constitution=cid,
                            sha256=active.sha256, serving=current.sha256)
                continue
            try:
                found = rebuilt(content, path=active.path or current.path,
                                lineage=active.lineage)
            except ValueError as exc:  # recorded under a schema this version cannot read
                log.error("constitution_unreadable", constitution=cid, sha256=active.sha256,
                          serving=current.sha256, error=str(exc))
                continue
            await asyncio.to_thread(preload, found)
            self.service.constitutions = {**self.service.constitutions, cid: found}
            log.info("constitution_activated", constitution=cid, version=found.version,
                     sha256=found.sha256, record=active.record)

    # -- start and reload -------------------------------------------------------------

    async def start(self) -> None:
        """Load the files; serve for each the version the ledger last activated."""
        await self.follow()
        loaded = await self._files()
        serving: dict[str, Constitution] = {}
        for constitution in loaded.values():
            active = self.book.active.get(constitution.id)
            content = self.book.contents.get(active.sha256) if active else None
            extra: dict[str, Any] = {}
            chosen = constitution
            recorded = proposed.rebuilt_or_none(content, active, constitution)
            if recorded is not None and recorded.sha256 == constitution.sha256:
                pass  # the same content (hashes differ only by a newer schema's defaults)
            elif active is not None and active.sha256 != constitution.sha256:
                if recorded is not None:
                    chosen = recorded
                    extra["file_differs"] = {"path": constitution.path,
                                             "version": constitution.version,
                                             "sha256": constitution.sha256}
                    log.warning("constitution_file_differs", constitution=constitution.id,
                                path=constitution.path, active=chosen.version,
                                file=constitution.version,
                                fix="POST /v1/constitutions/reload proposes the file; or "
                                    "make the file match the active version")
                else:  # a ledger from before four-eyes activation: its content is unknown
                    extra["replaces_unrecorded"] = active.sha256
                    log.warning("constitution_file_activated_at_start",
                                constitution=constitution.id, file=constitution.version,
                                reason="the ledger holds no content of the active version "
                                       "that this version can read")
            serving[chosen.id] = chosen
            await self._activated(chosen, actor="startup", **extra)
        self.service.constitutions = serving
        self._served = {}
        await self.follow()
        self.service.readiness.parts["constitutions"] = "ok"

    async def reload(self, *, caller: Person, break_glass: bool = False,
                     reason: str = "") -> Reloaded:
        """Propose every file that differs from the active version (break-glass: activate
        each at once, loudly, with the reason)."""
        if break_glass and not reason.strip():
            raise ApiError(400, "break-glass activation needs a reason: add "
                                "&reason=... saying why this cannot wait for a second person",
                           param="reason", code="reason_required")
        await self.follow()
        result = Reloaded()
        for constitution in (await self._files()).values():
            current = self.service.constitutions.get(constitution.id)
            if current is not None and current.sha256 == constitution.sha256:
                continue
            if break_glass:
                await self._activated(constitution, actor=caller.name, break_glass=True,
                                      reason=reason.strip(), previous=_named(current))
                log.warning("constitution_break_glass", constitution=constitution.id,
                            version=constitution.version, sha256=constitution.sha256,
                            activated_by=caller.name, reason=reason.strip())
                result.activated.append(constitution)
                continue
            base_sha = current.sha256 if current else ""
            open_one = self.book.waiting(constitution.id, constitution.sha256, base_sha)
            if open_one is not None:
                result.proposals.append(open_one)
                continue
            try:
                result.proposals.append(await self._propose(
                    caller, current, constitution, source="reload"))
            except ApiError as exc:
                result.refused.append({"constitution": constitution.id, "reason": exc.message})
        await self.follow()
        return result

    async def _files(self) -> dict[str, Constitution]:
        """Every constitution this service answers for, as its file says now."""
        refs = dict.fromkeys([*shipped(), self.service.settings.constitution])
        loaded: dict[str, Constitution] = {}
        for ref in refs:
            constitution = await asyncio.to_thread(load_constitution, ref)
            loaded[constitution.id] = constitution
            if ref == self.service.settings.constitution:
                self.service.default_constitution = constitution.id
        return loaded

    async def _activated(self, constitution: Constitution, *, actor: str,
                         **extra: Any) -> str:
        """Append the `constitution` record (with the content, so any worker can serve it)."""
        receipt = await self.service.ledger.append("constitution", {
            "id": constitution.id, "version": constitution.version,
            "sha256": constitution.sha256, "path": str(constitution.path or ""),
            "lineage": list(constitution.lineage), "content": content_of(constitution),
            "activated_by": actor, **extra})
        return receipt.id

    # -- four eyes --------------------------------------------------------------------

    async def propose(self, caller: Person, constitution_id: str, *, text: str | None = None,
                      from_file: bool = False, attachment: str | None = None,
                      note: str = "") -> Proposal:
        """Record a proposal of a new version (YAML text, or the constitution's file)."""
        await self.follow()
        current = self.service.constitution(constitution_id)
        if (text is None) == (not from_file):
            raise ApiError(400, "give either `yaml` (the new version's text) or "
                                "`from_file: true` (read the constitution's file again)",
                           param="yaml", code="yaml_or_file")
        if from_file:
            if not current.path:
                raise ApiError(400, f"constitution {current.id!r} has no file to read; "
                                    "send its new text as `yaml`", param="from_file")
            new = await asyncio.to_thread(proposed.from_file, current.path)
        else:
            new = await asyncio.to_thread(proposed.from_text, text or "", current)
        if new.id != current.id:
            raise ApiError(400, f"the proposed text has id {new.id!r}, not {current.id!r}; "
                                "a proposal changes one constitution", param="yaml",
                           code="wrong_constitution")
        return await self._propose(caller, current, new, source="file" if from_file else "text",
                                   attachment=attachment, note=note)

    async def _propose(self, caller: Person, current: Constitution | None, new: Constitution,
                       *, source: str, attachment: str | None = None,
                       note: str = "") -> Proposal:
        if current is not None and new.sha256 == current.sha256:
            raise ApiError(409, f"{new.id} {new.version} (sha256 {new.sha256[:12]}) is the "
                                "active version already; change it before proposing",
                           code="unchanged")
        if current is not None and new.version == current.version:
            raise ApiError(400, f"{new.id}: the content changed but the version is still "
                                f"{new.version}; raise `version` so records can tell the two "
                                "apart", param="yaml", code="same_version")
        body: dict[str, Any] = {
            "constitution": new.id, "proposer": caller.name, "proposer_role": caller.role,
            "base": _named(current) or {"version": "", "sha256": ""},
            "new": {"version": new.version, "sha256": new.sha256, "path": new.path,
                    "lineage": list(new.lineage)},
            "content": content_of(new), "source": source,
            "changes": changes(current, new) if current else {},
            "diff": unified_diff(current, new) if current else ""}
        if attachment:
            body["attachment"] = attachment_of(attachment, proposed=new.sha256)
        if note.strip():
            body["note"] = note.strip()
        receipt = await self.service.ledger.append("proposal", body)
        log.info("constitution_proposed", constitution=new.id, version=new.version,
                 proposal=receipt.id, proposer=caller.name)
        await self.follow()
        return self.proposal(receipt.id)

    async def approve(self, caller: Person, proposal_id: str, *, note: str = "") -> Proposal:
        """Approve (a different person only) and activate the proposed version."""
        await self.follow()
        found = self.proposal(proposal_id)
        _still_open(found)
        if caller.name == found.proposer:
            raise ApiError(403, f"{caller.name!r} proposed this version and cannot approve it "
                                "too: another admin or an auditor must approve it",
                           code="same_person")
        if found.state == "stale":
            active = self.book.active.get(found.constitution)
            raise ApiError(409, f"proposal {found.id} changes {found.constitution} "
                                f"{found.base.version} (sha256 {found.base.sha256[:12]}), but "
                                f"{active.version if active else 'nothing'} is active now; "
                                "reject it and propose again against the active version",
                           code="stale_proposal")
        new = proposed.recorded(self.book.contents.get(found.new.sha256), found)
        approval = await self.service.ledger.append("approval", {
            "proposal": found.id, "constitution": found.constitution,
            "approver": caller.name, "approver_role": caller.role, "proposer": found.proposer,
            "version": found.new.version, "sha256": found.new.sha256,
            **({"note": note.strip()} if note.strip() else {})})
        await self.follow()
        decided = self.proposal(found.id)
        if decided.decision != approval.id:  # another worker decided first
            what = (f"was {decided.state} by {decided.decided_by}" if decided.decided_by
                    else "was made stale by another version approved")
            raise ApiError(409, f"proposal {found.id} {what} meanwhile; this approval has "
                                "no effect", code="decided_elsewhere")
        await self._activated(new, actor=caller.name, proposal=found.id,
                              approval=approval.id, proposer=found.proposer,
                              approver=caller.name,
                              previous={"version": found.base.version,
                                        "sha256": found.base.sha256})
        await self.follow()
        return decided

    async def reject(self, caller: Person, proposal_id: str, *, reason: str) -> Proposal:
        """Close a proposal without activating it; the reason is recorded."""
        if not reason.strip():
            raise ApiError(400, "a rejection needs a reason, so the proposer knows what to "
                                "change", param="reason", code="reason_required")
        await self.follow()
        found = self.proposal(proposal_id)
        _still_open(found)
        receipt = await self.service.ledger.append("rejection", {
            "proposal": found.id, "constitution": found.constitution,
            "rejected_by": caller.name, "rejecter_role": caller.role,
            "proposer": found.proposer, "reason": reason.strip()})
        await self.follow()
        decided = self.proposal(found.id)
        if decided.decision != receipt.id:
            raise ApiError(409, f"proposal {found.id} was {decided.state} by "
                                f"{decided.decided_by} meanwhile", code="decided_elsewhere")
        return decided

    def proposal(self, proposal_id: str) -> Proposal:
        """A proposal by id with its current state, or 404."""
        found = self.book.get(proposal_id)
        if found is None:
            raise ApiError(404, f"no proposal {proposal_id!r}; GET /v1/constitutions/proposals "
                                "lists the open ones", code="proposal_not_found")
        return found


def _still_open(found: Proposal) -> None:
    if found.state in ("approved", "rejected"):
        raise ApiError(409, f"proposal {found.id} was {found.state} by {found.decided_by} at "
                            f"{found.decided_at}; it cannot be decided again",
                       code="proposal_closed")


def _named(constitution: Constitution | None) -> dict[str, str] | None:
    if constitution is None:
        return None
    return {"version": constitution.version, "sha256": constitution.sha256}


def _read(ledger: Ledger, start: int) -> tuple[list[dict[str, Any]], int, int]:
    """(the records that may matter to the fold, the seq read up to, how many records
    were read): from `start` (0: through the index, where there is one)."""
    query = ledger.query if start == 0 else None
    if query is not None and not isinstance(query, ScanQuery):
        picked, end = _indexed(query)
        return picked, end, len(picked)
    picked, count = _scan(ledger.store, start)
    return picked, start + count, count


def _scan(store: Store, start: int) -> tuple[list[dict[str, Any]], int]:
    """(the records from seq `start` on that may matter to the fold, how many lines read)."""
    picked: list[dict[str, Any]] = []
    count = 0
    for line in store.lines(start):
        count += 1
        if relevant(line):
            picked.append(json.loads(line))
    return picked, count


def _indexed(query: Query) -> tuple[list[dict[str, Any]], int]:
    """(the records of the fold's kinds in seq order, the ledger's size they cover),
    through the index: one indexed read per kind, merged by seq."""
    size = query.size()
    kinds = [query.matching(Filter(kind=kind)) for kind in KINDS]
    merged = heapq.merge(*kinds, key=lambda record: int(record["seq"]))
    return [record for record in merged if record["seq"] < size], size
