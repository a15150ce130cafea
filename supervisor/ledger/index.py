"""Indexed reads of the ledger: pages, filters, by id, reviews, the queue, exports.

The console, the audit API and `supervisor audit show/export` read through one `Query`,
so a page costs what it shows, not what the ledger holds. Answers equal those of
`supervisor.ledger.export.Filter` applied to every record (the semantic reference;
`ScanQuery` is that full scan, kept as the fallback and the tests' oracle).

JSONL: `SqliteIndex` keeps a sidecar `index.sqlite` in the ledger directory (WAL mode),
one row per record with the fields filters use and where its line starts, so a record
is read by one seek. It is a cache, never the source of truth: each read first indexes
the lines appended since (by this or another process) from where the last indexed line
ended; a missing or corrupt sidecar, or one that no longer matches the ledger (the hash
at its last indexed seq differs: the ledger was replaced), is rebuilt from the lines.
PostgreSQL: `supervisor.ledger.postgres_index.PostgresQuery`, the same queries in SQL
over side tables the store writes with each append.

Both also hold what the Ledger needs for checkpoints and proofs without keeping anything
per record in memory (`supervisor.ledger.merkle.Nodes`): each record's hash and the
hashes of the Merkle tree's perfect subtrees of `BLOCK` leaves and up, computed as
records are indexed; counts per (kind, action), so an unfiltered page's totals are a
few rows, not a count over the ledger; and each escalation with the closing reviews behind
it, so the review queue reads the open ones only (`supervisor.ledger.quorum`).
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
import threading
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from supervisor.ledger.export import Filter, fired
from supervisor.ledger.merkle import BLOCK, Tree, grow_nodes
from supervisor.ledger.quorum import backers, backing, needed, still_open, under

SIDECAR = "index.sqlite"
SCHEMA = "3"  # 3: escalations and the reviews behind them
CHUNK = 20_000  # rows indexed per transaction, so other processes' reads interleave
CACHE_KB = 32_768  # SQLite's page cache per connection (its default is 2 MB)
Row = tuple[Any, ...]
MAX_SEQ = 2**63 - 1  # SQLite's INTEGER and PostgreSQL's bigint


def below(before: int | None) -> int | None:
    """A `before` cursor a database can take: one past every seq is the same as none."""
    return None if before is None or before > MAX_SEQ else before


@dataclass(frozen=True, slots=True)
class Page:
    """Newest first: the records on this page, the cursor for the next, counts per action."""

    records: list[dict[str, Any]]
    total: int
    next_before: int | None
    actions: dict[str, int]


class Query(Protocol):
    """The reads the console, the audit API and the CLI make of a ledger."""

    def page(self, keep: Filter, *, search: str = "", limit: int = 50,
             before: int | None = None) -> Page:
        """Matching records newest first, below seq `before`; totals over every match."""
        ...

    def get(self, record_id: str) -> dict[str, Any] | None:
        """One record by id, or None."""
        ...

    def reviews_of(self, record_id: str) -> list[dict[str, Any]]:
        """The review records linked to a decision, oldest first."""
        ...

    def escalations(self, keep: Filter | None = None, *,
                    reviewers: Mapping[str, int] | None = None, before: int | None = None,
                    limit: int | None = None
                    ) -> list[tuple[dict[str, Any], list[dict[str, Any]]]]:
        """Escalated decisions (matching `keep`) newest first, each with its reviews.

        With `reviewers` (each constitution's `defaults.reviewers` by id), decisions
        already closed are left out, in the index (`supervisor.ledger.quorum`), so the
        queue costs what is open; `api.reviews.state_of` decides on the rest. A page:
        only seqs below `before`, at most `limit` of them (the next page is below the
        last seq returned, when `limit` came back)."""
        ...

    def matching(self, keep: Filter, *, start: int = 0) -> Iterator[dict[str, Any]]:
        """Every matching record from seq `start` on, in seq order (exports, a period)."""
        ...

    def labels(self) -> tuple[list[str], list[str]]:
        """Every `constitution@version` and every app decisions were made under, sorted."""
        ...

    def checkpointed(self) -> int:
        """The size the latest checkpoint signed (0 when none)."""
        ...

    def last_checkpoint(self) -> dict[str, Any] | None:
        """The latest checkpoint record's body (size, root, head, time, signature); a
        checkpoint record without a size and a root (a script's) is passed over."""
        ...

    def with_checkpoint(self, record_id: str
                        ) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
        """One record by id (or None) and the latest checkpoint's body, in one look:
        what an inclusion proof starts from."""
        ...

    def size(self) -> int:
        """How many records are indexed, once what was appended since is indexed."""
        ...

    def indexed(self) -> int:
        """A count n of records whose leaves and subtree hashes are read as stored now,
        without indexing what was appended since: a Ledger's frontier starts from the
        first n records and reads the hashes after them from the store."""
        ...

    def leaves(self, start: int, end: int) -> bytes:
        """The hashes (32 bytes each) of the indexed records with seq in [start, end)."""
        ...

    def node(self, level: int, index: int) -> bytes | None:
        """A stored Merkle subtree hash (see `supervisor.ledger.merkle.Nodes`)."""
        ...

    def nodes(self, wanted: list[tuple[int, int]]) -> dict[tuple[int, int], bytes]:
        """The stored ones of several Merkle subtree hashes, in one look."""
        ...

    def close(self) -> None:
        """Release files or connections."""
        ...


@dataclass(frozen=True, slots=True)
class Entry:
    """What the index keeps of one record: the fields filters read."""

    seq: int
    id: str
    ts: str
    kind: str
    action: str | None
    stage: str | None
    constitution: str | None
    version: str | None
    app: str | None
    user_ref: str | None
    decision: str | None  # the decision a review refers to
    principles: tuple[str, ...]
    version_label: str | None  # `id@version` as the console lists it
    app_label: str | None
    backing: tuple[str, str, str] | None = None  # a closing review's (verdict, text, reviewer)
    under: str = ""  # an escalation's constitution, as its reviewers are looked up

    @property
    def escalation(self) -> bool:
        return self.kind == "decision" and self.action == "escalate"


def entry_of(record: dict[str, Any]) -> Entry:
    """The indexed fields of a record, read exactly as `Filter` reads them (a part of
    the body that is not an object where one is expected counts as absent)."""
    body = _object(record.get("body"))
    stamp = _object(_object(body.get("provenance")).get("constitution"))
    context = _object(body.get("context"))
    decision = record["kind"] == "decision"
    review = record["kind"] == "review"
    app = context.get("app_id")
    return Entry(
        record["seq"], record["id"], record["ts"], record["kind"], _text(body.get("action")),
        _text(body.get("stage")), _text(stamp.get("id")), _text(stamp.get("version")),
        _text(app), _text(context.get("user_ref")),
        _text(body.get("decision")) if review else None,
        tuple(dict.fromkeys(p for p in _fired(body) if isinstance(p, str))),
        f"{stamp.get('id')}@{stamp.get('version')}" if decision and stamp else None,
        str(app) if decision and app else None,
        backing(body) if review else None,
        under(body) if decision else "")


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _object(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _fired(body: dict[str, Any]) -> list[Any]:
    try:
        return fired(body)
    except (AttributeError, TypeError):  # `violated` or `revisions` of another shape
        return []


def where(keep: Filter, search: str = "", *, mark: str = "?",
          fired_table: str = "fired") -> tuple[str, list[Any]]:
    """The SQL condition (over the index's columns) that keeps what `keep` keeps."""
    clauses, params = ["1=1"], []
    constitution, _, version = keep.constitution.partition("@")
    for column, op, value in (("ts", ">=", keep.since), ("ts", "<=", keep.until),
                              ("kind", "=", keep.kind), ("action", "=", keep.action),
                              ("constitution", "=", constitution),
                              ("version", "=", version), ("app", "=", keep.app),
                              ("stage", "=", keep.stage), ("user_ref", "=", keep.user_ref)):
        if value:
            clauses.append(f"{column} {op} {mark}")
            params.append(value)
    if keep.principle:
        clauses.append(f"seq IN (SELECT seq FROM {fired_table} WHERE principle = {mark})")
        params.append(keep.principle)
    if search:
        clauses.append(f"strpos(lower(id), {mark}) > 0" if mark == "%s"
                       else f"instr(lower(id), {mark}) > 0")
        params.append(search.lower())
    return " AND ".join(clauses), params


def signed(body: Any) -> bool:
    """Whether a checkpoint record's body is a statement the Ledger signed (a size and a
    root), not one a script appended with the same kind."""
    return isinstance(body, dict) and isinstance(body.get("size"), int) \
        and isinstance(body.get("root"), str)


LOOK = 8  # checkpoint records read at a time, newest first, for the latest signed one


def latest_signed(newest: Callable[[int], list[dict[str, Any]]]) -> dict[str, Any] | None:
    """The latest signed checkpoint's body, from `newest(before)`: up to LOOK checkpoint
    records below seq `before`, newest first."""
    before = MAX_SEQ
    while True:
        found = newest(before)
        for record in found:
            if signed(record.get("body")):
                return dict(record["body"])
        if len(found) < LOOK:
            return None
        before = int(found[-1]["seq"])


def unfiltered(keep: Filter, search: str = "") -> bool:
    """Whether `keep` names at most a kind and an action, so counts per (kind, action)
    answer its totals."""
    return not (search or keep.since or keep.until or keep.principle or keep.constitution
                or keep.app or keep.stage or keep.user_ref)


NO_ACTION = "\x1f"  # the counts' key for records without an action (PostgreSQL text has no NUL)


def tallies(entries: Iterable[Entry]) -> list[tuple[str, str, int]]:
    """(kind, action or NO_ACTION, how many) of `entries`."""
    found = Counter((e.kind, NO_ACTION if e.action is None else e.action) for e in entries)
    return [(kind, action, n) for (kind, action), n in sorted(found.items())]


def counted(rows: Iterable[Row]) -> tuple[int, dict[str, int]]:
    """(total, decisions per action) from rows of (is a decision, action, count)."""
    total, actions = 0, Counter[str]()
    for is_decision, action, count in rows:
        total += count
        if is_decision:
            actions[str(action)] += count
    return total, dict(actions)


# -- the reference: a full scan ---------------------------------------------------------

class Lines(Protocol):
    def lines(self, start: int = 0) -> Iterator[bytes]: ...


class ScanQuery:
    """Every answer by reading every record through `Filter`: the reference semantics,
    and the fallback where no index can be kept (a read-only copy). Being a scan, it
    keeps the Merkle tree it answers `leaves` and `node` from in memory."""

    def __init__(self, store: Lines) -> None:
        self.store = store
        self._tree = Tree()
        self._leaves = bytearray()

    def _follow(self) -> None:
        for line in self.store.lines(len(self._tree)):
            leaf = bytes.fromhex(json.loads(line)["hash"])
            self._tree.append(leaf)
            self._leaves += leaf

    def _all(self) -> Iterator[dict[str, Any]]:
        for line in self.store.lines():
            yield json.loads(line)

    def page(self, keep: Filter, *, search: str = "", limit: int = 50,
             before: int | None = None) -> Page:
        matched = [r for r in self._all()
                   if keep(r) and (not search or search.lower() in r["id"].lower())]
        actions = Counter(str((r.get("body") or {}).get("action")) for r in matched
                          if r["kind"] == "decision")
        newest = [r for r in reversed(matched) if before is None or r["seq"] < before]
        shown = newest[:limit]
        more = len(newest) > limit
        return Page(shown, len(matched), shown[-1]["seq"] if more and shown else None,
                    dict(actions))

    def get(self, record_id: str) -> dict[str, Any] | None:
        return next((r for r in self._all() if r["id"] == record_id), None)

    def reviews_of(self, record_id: str) -> list[dict[str, Any]]:
        return [r for r in self._all() if r["kind"] == "review"
                and (r.get("body") or {}).get("decision") == record_id]

    def escalations(self, keep: Filter | None = None, *,
                    reviewers: Mapping[str, int] | None = None, before: int | None = None,
                    limit: int | None = None
                    ) -> list[tuple[dict[str, Any], list[dict[str, Any]]]]:
        found = [(r, linked) for r, linked in self._escalations(keep, reviewers)
                 if before is None or r["seq"] < before]
        return found if limit is None else found[:limit]

    def _escalations(self, keep: Filter | None, reviewers: Mapping[str, int] | None
                     ) -> list[tuple[dict[str, Any], list[dict[str, Any]]]]:
        escalated: list[dict[str, Any]] = []
        reviews: dict[Any, list[dict[str, Any]]] = {}
        for record in self._all():
            body = record.get("body") or {}
            if record["kind"] == "decision" and body.get("action") == "escalate" and (
                    keep is None or keep(record)):
                escalated.append(record)
            elif record["kind"] == "review":
                reviews.setdefault(body.get("decision"), []).append(record)
        found = [(r, reviews.get(r["id"], [])) for r in reversed(escalated)]
        if reviewers is None:
            return found
        return [(r, linked) for r, linked in found
                if backers(_object(v.get("body")) for v in linked)
                < needed(entry_of(r).under, reviewers)]

    def matching(self, keep: Filter, *, start: int = 0) -> Iterator[dict[str, Any]]:
        return (r for r in self._all() if r["seq"] >= start and keep(r))

    def labels(self) -> tuple[list[str], list[str]]:
        entries = [entry_of(r) for r in self._all()]
        return (sorted({e.version_label for e in entries if e.version_label}),
                sorted({e.app_label for e in entries if e.app_label}))

    def checkpointed(self) -> int:
        found = self.last_checkpoint()
        return int(found["size"]) if found else 0

    def last_checkpoint(self) -> dict[str, Any] | None:
        found = None
        for record in self._all():
            if record["kind"] == "checkpoint" and signed(record.get("body")):
                found = record["body"]
        return found

    def with_checkpoint(self, record_id: str
                        ) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
        return self.get(record_id), self.last_checkpoint()

    def size(self) -> int:
        self._follow()
        return len(self._tree)

    def indexed(self) -> int:
        return self.size()

    def leaves(self, start: int, end: int) -> bytes:
        self._follow()
        return bytes(self._leaves[start * 32:end * 32])

    def node(self, level: int, index: int) -> bytes | None:
        self._follow()
        if (index + 1) << level > len(self._tree):
            return None
        return self._tree.hash(index << level, (index + 1) << level)

    def nodes(self, wanted: list[tuple[int, int]]) -> dict[tuple[int, int], bytes]:
        found = {key: self.node(*key) for key in wanted if key[0] >= 0}  # no LEAVES: read
        return {key: digest for key, digest in found.items() if digest is not None}

    def close(self) -> None:
        pass


# -- JSONL: the SQLite sidecar ----------------------------------------------------------

class Segments(Protocol):
    directory: Path

    def segments(self) -> list[Path]: ...

    def lines(self, start: int = 0) -> Iterator[bytes]: ...


_TABLES = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS segments (no INTEGER PRIMARY KEY, name TEXT UNIQUE NOT NULL);
CREATE TABLE IF NOT EXISTS records (
  seq INTEGER PRIMARY KEY, id TEXT NOT NULL, ts TEXT NOT NULL, kind TEXT NOT NULL,
  action TEXT, stage TEXT, constitution TEXT, version TEXT, app TEXT, user_ref TEXT,
  decision TEXT, segment INTEGER NOT NULL, offset INTEGER NOT NULL, length INTEGER NOT NULL,
  hash BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS nodes (level INTEGER NOT NULL, idx INTEGER NOT NULL,
  hash BLOB NOT NULL, PRIMARY KEY (level, idx)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS counts (kind TEXT NOT NULL, action TEXT NOT NULL,
  n INTEGER NOT NULL, PRIMARY KEY (kind, action)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS fired (principle TEXT NOT NULL, seq INTEGER NOT NULL,
  PRIMARY KEY (principle, seq)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS labels (name TEXT NOT NULL, value TEXT NOT NULL,
  PRIMARY KEY (name, value)) WITHOUT ROWID;
-- every escalated decision, with the most distinct reviewers behind one outcome
-- (supervisor.ledger.quorum), and each closing review's (verdict, text, reviewer)
CREATE TABLE IF NOT EXISTS escalations (seq INTEGER PRIMARY KEY, id TEXT UNIQUE NOT NULL,
  constitution TEXT NOT NULL, backers INTEGER NOT NULL DEFAULT 0);
CREATE INDEX IF NOT EXISTS escalations_open ON escalations (backers, seq);
CREATE TABLE IF NOT EXISTS backings (decision TEXT NOT NULL, verdict TEXT NOT NULL,
  outcome TEXT NOT NULL, reviewer TEXT NOT NULL,
  PRIMARY KEY (decision, verdict, outcome, reviewer)) WITHOUT ROWID;
-- (kind), (kind, action) and (action) end in seq, so the newest page of a kind or an
-- action is read in order; (action, ts, kind) counts an action in a period by itself
CREATE UNIQUE INDEX IF NOT EXISTS records_id ON records (id);
DROP INDEX IF EXISTS records_kind;
CREATE INDEX IF NOT EXISTS records_kind_seq ON records (kind);
CREATE INDEX IF NOT EXISTS records_kind_action ON records (kind, action);
CREATE INDEX IF NOT EXISTS records_action_seq ON records (action);
DROP INDEX IF EXISTS records_action;
CREATE INDEX IF NOT EXISTS records_action_ts ON records (action, ts, kind);
CREATE INDEX IF NOT EXISTS records_ts ON records (ts);
CREATE INDEX IF NOT EXISTS records_constitution ON records (constitution, version);
CREATE INDEX IF NOT EXISTS records_app ON records (app);
CREATE INDEX IF NOT EXISTS records_user ON records (user_ref);
CREATE INDEX IF NOT EXISTS records_stage ON records (stage);
CREATE INDEX IF NOT EXISTS records_decision ON records (decision) WHERE decision IS NOT NULL;
"""
_WHERE = "SELECT seq, segment, offset, length FROM records"


class _Stale(Exception):
    """The sidecar no longer matches the ledger's lines: rebuild it."""


@dataclass(frozen=True, slots=True)
class _Mark:
    """How far the sidecar has indexed: the next seq, and where its line would start."""

    next_seq: int = 0
    segment: str = ""
    end: int = 0
    last_hash: str = ""


class SqliteIndex:
    """The JSONL ledger's rebuildable index (see the module docstring)."""

    def __init__(self, store: Segments, path: Path | None = None) -> None:
        self.store = store
        self.path = path or store.directory / SIDECAR
        self._lock = threading.RLock()
        self._conn = self._connect()
        self._checked = False

    # -- keeping up -----------------------------------------------------------------

    def _connect(self) -> sqlite3.Connection:
        try:
            conn = self._open()
            conn.execute("SELECT count(*) FROM meta").fetchone()
            if dict(conn.execute("SELECT key, value FROM meta")).get("schema") != SCHEMA:
                raise sqlite3.DatabaseError("another schema")
            return conn
        except sqlite3.OperationalError:  # busy, or not ours to write: not a broken file
            raise
        except sqlite3.DatabaseError:  # corrupt, or another layout: it is only a cache
            self._remove()
            conn = self._open()
            return conn

    def _open(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, timeout=60, isolation_level=None,
                               check_same_thread=False)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute(f"PRAGMA cache_size=-{CACHE_KB}")  # a big ledger's index pages stay hot
        conn.executescript(_TABLES)
        conn.execute("INSERT OR IGNORE INTO meta VALUES ('schema', ?)", (SCHEMA,))
        return conn

    def _remove(self) -> None:
        for suffix in ("", "-wal", "-shm"):
            Path(f"{self.path}{suffix}").unlink(missing_ok=True)

    def rebuild(self) -> None:
        """Drop the sidecar and index every line again."""
        with self._lock:
            self._conn.close()
            self._remove()
            self._conn = self._open()
            self._checked = True
            self._catch_up()

    def refresh(self) -> None:
        """Index the lines appended since the last look (any process's); rebuild a sidecar
        that no longer matches the ledger."""
        self._follow(catch_up=True)

    def _follow(self, *, catch_up: bool) -> None:
        """Check once that the sidecar matches the ledger (rebuild it if not), then index
        what was appended since, when `catch_up`."""
        with self._lock:
            try:
                if not self._checked:
                    self._check()
                    self._checked = True
                if catch_up:
                    self._catch_up()
            except sqlite3.OperationalError:
                raise
            except (_Stale, sqlite3.DatabaseError):
                self.rebuild()

    def _mark(self) -> _Mark:
        meta = dict(self._conn.execute("SELECT key, value FROM meta"))
        return _Mark(int(meta.get("next_seq", 0)), meta.get("segment", ""),
                     int(meta.get("end", 0)), meta.get("last_hash", ""))

    def _check(self) -> None:
        """Raise _Stale unless the last indexed record is still in the ledger as indexed."""
        mark = self._mark()
        if not mark.next_seq:
            return
        found = self._read([r for r in self._conn.execute(
            f"{_WHERE} WHERE seq = ?", (mark.next_seq - 1,))])
        if not found or found[0].get("hash") != mark.last_hash:
            raise _Stale

    def _catch_up(self) -> None:
        segments = self.store.segments()
        mark = self._mark()
        if not segments:
            if mark.next_seq:
                raise _Stale
            return
        if mark.segment == segments[-1].name and _size(segments[-1]) == mark.end:
            return  # nothing new: one stat
        while True:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                mark = self._mark()  # another process may have indexed meanwhile
                done = self._index_some(segments, mark)
                self._conn.execute("COMMIT")
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            if done:
                return

    def _index_some(self, segments: list[Path], mark: _Mark) -> bool:
        """Index up to CHUNK new lines from `mark` on; True when the ledger's end is reached."""
        names = [p.name for p in segments]
        if mark.segment and mark.segment not in names:
            raise _Stale
        first = names.index(mark.segment) if mark.segment else 0
        next_seq, segment, end, last_hash = mark.next_seq, mark.segment, mark.end, \
            mark.last_hash
        count = 0
        added: list[Entry] = []
        escalated: list[tuple[int, str, str]] = []
        backed: list[tuple[str, str, str, str]] = []
        for path in segments[first:]:
            start = end if path.name == mark.segment else 0
            if path.name == mark.segment and _size(path) < start:
                raise _Stale  # the segment shrank: the ledger was replaced
            number = self._segment_no(path.name)
            entries, fired_rows, label_rows = [], [], []
            with path.open("rb") as handle:
                offset = handle.seek(start)
                for line in handle:
                    if not line.endswith(b"\n"):
                        break  # a line still being written: indexed next time
                    try:
                        record = json.loads(line)
                    except ValueError:
                        break  # a torn line: the next writer repairs it
                    if record.get("seq") != next_seq:
                        raise _Stale
                    entry = entry_of(record)
                    entries.append((entry.seq, entry.id, entry.ts, entry.kind, entry.action,
                                    entry.stage, entry.constitution, entry.version,
                                    entry.app, entry.user_ref, entry.decision, number,
                                    offset, len(line) - 1, bytes.fromhex(record["hash"])))
                    added.append(entry)
                    fired_rows += [(p, entry.seq) for p in entry.principles]
                    label_rows += [("version", v) for v in (entry.version_label,) if v]
                    label_rows += [("app", a) for a in (entry.app_label,) if a]
                    if entry.escalation:
                        escalated.append((entry.seq, entry.id, entry.under))
                    if entry.backing is not None and entry.decision is not None:
                        backed.append((entry.decision, *entry.backing))
                    offset += len(line)
                    next_seq, last_hash = next_seq + 1, str(record.get("hash"))
                    count += 1
                    if count >= CHUNK:
                        break
            self._conn.executemany(
                "INSERT INTO records VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)", entries)
            self._conn.executemany("INSERT OR IGNORE INTO fired VALUES (?, ?)", fired_rows)
            self._conn.executemany("INSERT OR IGNORE INTO labels VALUES (?, ?)", label_rows)
            segment, end = path.name, offset
            if count >= CHUNK:
                break
        self._conn.executemany(
            "INSERT INTO counts VALUES (?, ?, ?) ON CONFLICT (kind, action) DO UPDATE SET "
            "n = n + excluded.n", tallies(added))
        self._reviewed(escalated, backed)
        self._conn.executemany("INSERT INTO nodes VALUES (?, ?, ?)", grow_nodes(
            mark.next_seq // BLOCK, next_seq, self.leaves, self.node))
        self._conn.executemany("INSERT OR REPLACE INTO meta VALUES (?, ?)", [
            ("next_seq", str(next_seq)), ("segment", segment), ("end", str(end)),
            ("last_hash", last_hash)])
        return count < CHUNK

    def _reviewed(self, escalated: list[tuple[int, str, str]],
                  backed: list[tuple[str, str, str, str]]) -> None:
        """Index new escalations and closing reviews; recount the reviewers behind each
        escalation they concern (`supervisor.ledger.quorum`)."""
        self._conn.executemany("INSERT OR IGNORE INTO escalations (seq, id, constitution) "
                               "VALUES (?, ?, ?)", escalated)
        self._conn.executemany("INSERT OR IGNORE INTO backings VALUES (?, ?, ?, ?)", backed)
        self._conn.executemany(
            "UPDATE escalations SET backers = (SELECT coalesce(max(n), 0) FROM (SELECT "
            "count(*) AS n FROM backings WHERE decision = escalations.id GROUP BY verdict, "
            "outcome)) WHERE id = ?",
            [(i,) for i in dict.fromkeys([e[1] for e in escalated] + [b[0] for b in backed])])

    def _segment_no(self, name: str) -> int:
        self._conn.execute("INSERT OR IGNORE INTO segments (name) VALUES (?)", (name,))
        row = self._conn.execute("SELECT no FROM segments WHERE name = ?", (name,)).fetchone()
        return int(row[0])

    # -- reading --------------------------------------------------------------------

    def _read(self, rows: list[Row]) -> list[dict[str, Any]]:
        """The records at rows of (seq, segment, offset, length), in the rows' order."""
        names = dict(self._conn.execute("SELECT no, name FROM segments"))
        found: dict[int, dict[str, Any]] = {}
        by_segment: dict[int, list[Row]] = {}
        for row in rows:
            by_segment.setdefault(row[1], []).append(row)
        for number, wanted in by_segment.items():
            try:
                handle = (self.store.directory / names[number]).open("rb")
            except OSError:
                raise _Stale from None
            with handle:
                for seq, _, offset, length in sorted(wanted, key=lambda r: r[2]):
                    handle.seek(offset)
                    try:
                        found[seq] = json.loads(handle.read(length))
                    except ValueError:
                        raise _Stale from None
                    if found[seq].get("seq") != seq:
                        raise _Stale
        return [found[row[0]] for row in rows]

    def _run(self, work: Any) -> Any:
        """Refresh, then run `work()`; once more after a rebuild if the sidecar was stale."""
        with self._lock:
            self.refresh()
            try:
                return work()
            except sqlite3.OperationalError:
                raise
            except (_Stale, sqlite3.DatabaseError):
                self.rebuild()
                return work()

    def _select(self, sql: str, params: Iterable[Any] = ()) -> list[dict[str, Any]]:
        return self._read(list(self._conn.execute(sql, list(params))))

    def page(self, keep: Filter, *, search: str = "", limit: int = 50,
             before: int | None = None) -> Page:
        clause, params = where(keep, search)
        before = below(before)

        def work() -> Page:
            if unfiltered(keep, search):
                total, actions = counted(
                    (kind == "decision", None if action == NO_ACTION else action, n)
                    for kind, action, n in self._conn.execute(
                        "SELECT kind, action, n FROM counts WHERE (? = '' OR kind = ?) AND "
                        "(? = '' OR action = ?)", [keep.kind, keep.kind, keep.action,
                                                   keep.action]))
            else:
                total, actions = counted(self._conn.execute(
                    f"SELECT kind = 'decision', action, count(*) FROM records WHERE {clause} "
                    "GROUP BY 1, 2", params))
            cursor = "" if before is None else " AND seq < ?"
            # the seqs first, from an index alone; then where those few lines are
            shown = self._select(
                f"{_WHERE} WHERE seq IN (SELECT seq FROM records WHERE {clause}{cursor} "
                "ORDER BY seq DESC LIMIT ?) ORDER BY seq DESC",
                [*params, *([] if before is None else [before]), limit + 1])
            more = len(shown) > limit
            shown = shown[:limit]
            return Page(shown, total, shown[-1]["seq"] if more and shown else None, actions)

        result: Page = self._run(work)
        return result

    def get(self, record_id: str) -> dict[str, Any] | None:
        found: list[dict[str, Any]] = self._run(
            lambda: self._select(f"{_WHERE} WHERE id = ?", [record_id]))
        return found[0] if found else None

    def reviews_of(self, record_id: str) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = self._run(lambda: self._select(
            f"{_WHERE} WHERE decision = ? AND kind = 'review' ORDER BY seq", [record_id]))
        return found

    def escalations(self, keep: Filter | None = None, *,
                    reviewers: Mapping[str, int] | None = None, before: int | None = None,
                    limit: int | None = None
                    ) -> list[tuple[dict[str, Any], list[dict[str, Any]]]]:
        clause, params = where(keep or Filter())
        waiting, counts = ("1=1", []) if reviewers is None else still_open(
            reviewers, backers_column="e.backers", constitution_column="e.constitution")
        below_seq = below(before)
        cursor = "" if below_seq is None else " AND e.seq < ?"
        cap = "" if limit is None else " ORDER BY e.seq DESC LIMIT ?"

        def work() -> list[tuple[dict[str, Any], list[dict[str, Any]]]]:
            # driven by the escalations (open ones only, by `backers`), each checked
            # against the filter by its seq
            decisions = self._select(
                f"{_WHERE} WHERE seq IN (SELECT e.seq FROM escalations e WHERE {waiting}"
                f"{cursor} AND EXISTS (SELECT 1 FROM records WHERE records.seq = e.seq AND "
                f"{clause}){cap}) ORDER BY seq DESC",
                [*counts, *([] if below_seq is None else [below_seq]), *params,
                 *([] if limit is None else [limit])])
            reviews: dict[str, list[dict[str, Any]]] = {}
            ids = [d["id"] for d in decisions]
            for start in range(0, len(ids), 500):
                chunk = ids[start:start + 500]
                for review in self._select(
                        f"{_WHERE} WHERE kind = 'review' AND decision IN "
                        f"({','.join('?' * len(chunk))}) ORDER BY seq", chunk):
                    reviews.setdefault(review["body"]["decision"], []).append(review)
            return [(d, reviews.get(d["id"], [])) for d in decisions]

        found: list[tuple[dict[str, Any], list[dict[str, Any]]]] = self._run(work)
        return found

    def matching(self, keep: Filter, *, start: int = 0) -> Iterator[dict[str, Any]]:
        clause, params = where(keep)
        after = start - 1
        while True:
            chunk: list[dict[str, Any]] = self._run(lambda a=after: self._select(
                f"{_WHERE} WHERE {clause} AND seq > ? ORDER BY seq LIMIT 1000", [*params, a]))
            yield from chunk
            if len(chunk) < 1000:
                return
            after = chunk[-1]["seq"]

    def labels(self) -> tuple[list[str], list[str]]:
        def work() -> tuple[list[str], list[str]]:
            rows = list(self._conn.execute("SELECT name, value FROM labels ORDER BY value"))
            return ([v for n, v in rows if n == "version"], [v for n, v in rows if n == "app"])

        found: tuple[list[str], list[str]] = self._run(work)
        return found

    def checkpointed(self) -> int:
        found = self.last_checkpoint()
        return int(found["size"]) if found else 0

    def last_checkpoint(self) -> dict[str, Any] | None:
        def work() -> dict[str, Any] | None:
            return latest_signed(lambda before: self._select(
                f"{_WHERE} WHERE kind = 'checkpoint' AND seq < ? ORDER BY seq DESC LIMIT ?",
                [before, LOOK]))

        found: dict[str, Any] | None = self._run(work)
        return found

    def with_checkpoint(self, record_id: str
                        ) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
        return self.get(record_id), self.last_checkpoint()  # local: cheap one by one

    def size(self) -> int:
        """How many records the sidecar has indexed, once it has caught up."""
        with self._lock:
            self.refresh()
            return self._mark().next_seq

    def indexed(self) -> int:
        """The records indexed so far, once the sidecar is known to match the ledger
        (rebuilt if not); what was appended since is left for the next read to index."""
        with self._lock:
            self._follow(catch_up=False)
            return self._mark().next_seq

    def leaves(self, start: int, end: int) -> bytes:
        with self._lock:
            return b"".join(h for (h,) in self._conn.execute(
                "SELECT hash FROM records WHERE seq >= ? AND seq < ? ORDER BY seq",
                (start, end)))

    def node(self, level: int, index: int) -> bytes | None:
        with self._lock:
            row = self._conn.execute("SELECT hash FROM nodes WHERE level = ? AND idx = ?",
                                     (level, index)).fetchone()
        return bytes(row[0]) if row else None

    def nodes(self, wanted: list[tuple[int, int]]) -> dict[tuple[int, int], bytes]:
        # local lookups, cheap one by one; a block's leaves are read when needed
        found = {key: self.node(*key) for key in wanted if key[0] >= 0}
        return {key: digest for key, digest in found.items() if digest is not None}

    def close(self) -> None:
        with self._lock, contextlib.suppress(sqlite3.Error):
            self._conn.close()


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except FileNotFoundError:
        return 0


def open_query(store: Any) -> Query:
    """The index for `store`: the SQLite sidecar for JSONL, SQL for PostgreSQL; a full
    scan where no index can be kept (a directory this process may not write)."""
    from supervisor.ledger.jsonl import JsonlStore

    if isinstance(store, JsonlStore):
        try:
            return SqliteIndex(store)
        except (OSError, sqlite3.Error):
            return ScanQuery(store)
    import psycopg

    from supervisor.ledger.postgres import PostgresStore

    if not isinstance(store, PostgresStore):
        return ScanQuery(store)
    from supervisor.ledger.postgres_index import PostgresQuery

    query = PostgresQuery(store.url, store.table, read_only=not store.indexed)
    try:
        if store.indexed or query.complete():
            return query
    except psycopg.Error:  # a read-only look at a ledger from before the index
        pass
    query.close()  # ... or one whose index is not filled: scan it
    return ScanQuery(store)


__all__ = ["SIDECAR", "Entry", "Page", "Query", "ScanQuery", "SqliteIndex", "entry_of",
           "open_query", "where"]
