"""The PostgreSQL ledger's index: side tables written with each append, queried in SQL.

`<table>_index` holds one row per record with the fields filters read (ts in the "C"
collation, so it compares as `Filter` compares text), `<table>_fired` the principles
that fired in each, `<table>_labels` the constitution versions and apps decisions name.
The ledger table's append-only trigger refuses UPDATE, so nothing is added to it: rows
written before the index existed (or by an older version) are back-filled on read, in
batches, from the ledger's own lines. Pages use keyset pagination on seq.

`<table>_counts` keeps how many records there are per (kind, action), updated in the
append's transaction, so totals of an unfiltered page are a few rows; `<table>_escalations`
and `<table>_backings` keep each escalation and the closing reviews behind it, so the
review queue reads only the open ones (`supervisor.ledger.quorum`). `<table>_nodes`
keeps the Merkle tree's perfect subtrees of `BLOCK` leaves and up (see
`supervisor.ledger.merkle.StoredTree`), and each complete block's record hashes packed
in one row (level PACKED), grown by readers from the ledger's hashes, so proofs and a
Ledger's frontier need no record in memory and read a few rows.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator, Mapping
from typing import Any

import psycopg
from psycopg import sql

from supervisor.ledger.export import Filter
from supervisor.ledger.index import (
    LOOK,
    NO_ACTION,
    Entry,
    Page,
    below,
    counted,
    entry_of,
    latest_signed,
    signed,
    tallies,
    unfiltered,
    where,
)
from supervisor.ledger.merkle import BLOCK, LEAVES, NODE_LEVEL, grow_nodes
from supervisor.ledger.quorum import still_open

PACKED = LEAVES  # `<table>_nodes` rows at this level hold a complete block's record hashes

BATCH = 5000


def connect(url: str, *, autocommit: bool = True) -> psycopg.Connection[Any]:
    """A connection with JIT compilation off, for every read and write of the ledger.

    The planner cannot estimate a seq range computed from an array (a proof's blocks) and
    takes it for a million rows; past `jit_above_cost` PostgreSQL then compiles the plan,
    which costs far more than the indexed lookup it runs. Every statement here is a short
    indexed lookup or a stream, where compiling never pays (figures: docs/ledger.md).
    """
    conn = psycopg.connect(url, autocommit=autocommit)
    conn.execute("SET jit = off")
    return conn


def index_tables(table: str) -> list[sql.Composed]:
    """Statements creating the side tables and their indexes (idempotent)."""
    i, f, lab, nodes, counts, esc, backs = (sql.Identifier(f"{table}_{n}") for n in (
        "index", "fired", "labels", "nodes", "counts", "escalations", "backings"))
    statements = [
        sql.SQL("CREATE TABLE IF NOT EXISTS {} (seq bigint PRIMARY KEY, id text NOT NULL, "
                "ts text COLLATE \"C\" NOT NULL, kind text NOT NULL, action text, stage text, "
                "constitution text, version text, app text, user_ref text, decision text)"
                ).format(i),
        sql.SQL("CREATE TABLE IF NOT EXISTS {} (principle text NOT NULL, seq bigint NOT NULL,"
                " PRIMARY KEY (principle, seq))").format(f),
        sql.SQL("CREATE TABLE IF NOT EXISTS {} (name text NOT NULL, value text NOT NULL, "
                "PRIMARY KEY (name, value))").format(lab),
        sql.SQL("CREATE TABLE IF NOT EXISTS {} (level int NOT NULL, idx bigint NOT NULL, "
                "hash bytea NOT NULL, PRIMARY KEY (level, idx))").format(nodes),
        sql.SQL("CREATE TABLE IF NOT EXISTS {} (kind text NOT NULL, action text NOT NULL, "
                "n bigint NOT NULL, PRIMARY KEY (kind, action))").format(counts),
        sql.SQL("CREATE TABLE IF NOT EXISTS {} (seq bigint PRIMARY KEY, id text UNIQUE NOT "
                "NULL, constitution text NOT NULL, backers int NOT NULL DEFAULT 0)").format(esc),
        sql.SQL("CREATE INDEX IF NOT EXISTS {} ON {} (backers, seq)").format(
            sql.Identifier(f"{table}_escalations_open"), esc),
        sql.SQL("CREATE TABLE IF NOT EXISTS {} (decision text NOT NULL, verdict text NOT "
                "NULL, outcome text NOT NULL, reviewer text NOT NULL, PRIMARY KEY (decision,"
                " verdict, outcome, reviewer))").format(backs),
    ]
    for name, columns in (("id", "id"), ("kind", "kind, action, seq"), ("action", "action, seq"),
                          ("ts", "ts"),
                          ("constitution", "constitution, version, seq"),
                          ("app", "app, seq"), ("user", "user_ref, seq"),
                          ("stage", "stage, seq"), ("decision", "decision")):
        statements.append(sql.SQL("CREATE INDEX IF NOT EXISTS {} ON {} (" + columns + ")")
                          .format(sql.Identifier(f"{table}_index_{name}"), i))
    # an action (of a kind) in a period, counted and paged from the index alone
    for name, columns in (("action_period", "action, ts"),
                          ("kind_action_period", "kind, action, ts")):
        statements.append(sql.SQL("CREATE INDEX IF NOT EXISTS {} ON {} (" + columns
                                  + ") INCLUDE (kind, seq)").format(
                                      sql.Identifier(f"{table}_index_{name}"), i))
    for old in ("action_ts", "kind_action_ts"):  # made by earlier versions, without INCLUDE
        statements.append(sql.SQL("DROP INDEX IF EXISTS {}").format(
            sql.Identifier(f"{table}_index_{old}")))
    return statements


def index_rows(cursor: psycopg.Cursor[Any], table: str, records: list[dict[str, Any]]
               ) -> None:
    """Insert the index rows of `records` (already-indexed seqs are skipped) and count
    the ones inserted."""
    entries = [entry_of(r) for r in records]
    if not entries:
        return
    columns = list(zip(*[_row(e) for e in entries], strict=True))
    cursor.execute(sql.SQL(
        "INSERT INTO {} SELECT * FROM unnest(%s::bigint[], %s::text[], %s::text[], "
        "%s::text[], %s::text[], %s::text[], %s::text[], %s::text[], %s::text[], %s::text[],"
        " %s::text[]) ON CONFLICT DO NOTHING RETURNING seq"
    ).format(sql.Identifier(f"{table}_index")), [list(c) for c in columns])
    inserted = {seq for (seq,) in cursor.fetchall()}
    _beside(cursor, table, entries, [e for e in entries if e.seq in inserted])


def append_rows(cursor: psycopg.Cursor[Any], table: str, records: list[dict[str, Any]]
                ) -> None:
    """The index rows of records just appended, in the append's transaction: COPY, since
    their seqs are new to the ledger table and so to its index (a row already there is
    an index out of step, and fails the append)."""
    entries = [entry_of(r) for r in records]
    if not entries:
        return
    with cursor.copy(sql.SQL("COPY {} FROM STDIN").format(
            sql.Identifier(f"{table}_index"))) as copy:
        for entry in entries:
            copy.write_row(_row(entry))
    _beside(cursor, table, entries, entries)


def _row(e: Entry) -> tuple[Any, ...]:
    return (e.seq, e.id, e.ts, e.kind, e.action, e.stage, e.constitution, e.version, e.app,
            e.user_ref, e.decision)


def _beside(cursor: psycopg.Cursor[Any], table: str, entries: list[Entry],
            fresh: list[Entry]) -> None:
    """The rows kept beside the index rows: counts and escalations of the `fresh` entries
    (those whose index rows were inserted now), principles and labels of all; sent in one
    pipeline (a round trip)."""
    with cursor.connection.pipeline():
        _beside_rows(cursor, table, entries, fresh)


def _beside_rows(cursor: psycopg.Cursor[Any], table: str, entries: list[Entry],
                 fresh: list[Entry]) -> None:
    counts = tallies(fresh)
    if counts:
        cursor.executemany(sql.SQL(
            "INSERT INTO {} VALUES (%s, %s, %s) ON CONFLICT (kind, action) DO UPDATE SET "
            "n = {}.n + excluded.n").format(sql.Identifier(f"{table}_counts"),
                                            sql.Identifier(f"{table}_counts")), counts)
    fired = [(p, e.seq) for e in entries for p in e.principles]
    if fired:
        cursor.executemany(sql.SQL("INSERT INTO {} VALUES (%s, %s) ON CONFLICT DO NOTHING")
                           .format(sql.Identifier(f"{table}_fired")), fired)
    labels = {("version", e.version_label) for e in entries if e.version_label} | \
        {("app", e.app_label) for e in entries if e.app_label}
    if labels:
        cursor.executemany(sql.SQL("INSERT INTO {} VALUES (%s, %s) ON CONFLICT DO NOTHING")
                           .format(sql.Identifier(f"{table}_labels")), sorted(labels))
    escalated = [(e.seq, e.id, e.under) for e in fresh if e.escalation]
    backed = [(e.decision, *e.backing) for e in fresh
              if e.backing is not None and e.decision is not None]
    if escalated:
        cursor.executemany(sql.SQL("INSERT INTO {} (seq, id, constitution) VALUES "
                                   "(%s, %s, %s) ON CONFLICT DO NOTHING").format(
                                       sql.Identifier(f"{table}_escalations")), escalated)
    if backed:
        cursor.executemany(sql.SQL("INSERT INTO {} VALUES (%s, %s, %s, %s) ON CONFLICT DO "
                                   "NOTHING").format(sql.Identifier(f"{table}_backings")),
                           backed)
    count_backers(cursor, table, [*(e[1] for e in escalated), *(b[0] for b in backed)])


def count_backers(cursor: psycopg.Cursor[Any], table: str, ids: list[str] | None) -> None:
    """Set each escalation's `backers` (`supervisor.ledger.quorum`) from its reviews: those
    with an id in `ids`, or every one (None)."""
    if ids is not None and not ids:
        return
    esc, backs = (sql.Identifier(f"{table}_{n}") for n in ("escalations", "backings"))
    cursor.execute(sql.SQL(
        "UPDATE {} e SET backers = s.n FROM (SELECT decision, max(n) AS n FROM (SELECT "
        "decision, count(*) AS n FROM {} WHERE (%s::text[] IS NULL OR decision = "
        "ANY(%s::text[])) "
        "GROUP BY decision, verdict, outcome) c GROUP BY decision) s "
        "WHERE e.id = s.decision AND e.backers <> s.n").format(esc, backs), (ids, ids))


def fill_reviews(cursor: psycopg.Cursor[Any], table: str) -> None:
    """Fill the escalations and their reviews' backings from an index made before they
    were kept (once, when their tables are created), reading those records' lines."""
    i, t = sql.Identifier(f"{table}_index"), sql.Identifier(table)
    after = -1
    while True:
        rows = cursor.execute(sql.SQL(
            "SELECT t.seq, t.line FROM {} i JOIN {} t ON t.seq = i.seq WHERE (i.kind = "
            "'review' OR i.kind = 'decision' AND i.action = 'escalate') AND i.seq > %s "
            "ORDER BY i.seq LIMIT %s").format(i, t), (after, BATCH)).fetchall()
        if not rows:
            break
        after = rows[-1][0]
        entries = [entry_of(json.loads(line)) for _, line in rows]
        for name, found in (
                ("escalations", [(e.seq, e.id, e.under) for e in entries if e.escalation]),
                ("backings", [(e.decision, *e.backing) for e in entries
                              if e.backing is not None and e.decision is not None])):
            if found:
                cursor.executemany(sql.SQL(
                    "INSERT INTO {} VALUES (" + ", ".join(["%s"] * len(found[0]))
                    + ") ON CONFLICT DO NOTHING").format(sql.Identifier(f"{table}_{name}")),
                    found)
    count_backers(cursor, table, None)


class PostgresQuery:
    """`supervisor.ledger.index.Query` pushed down to PostgreSQL."""

    def __init__(self, url: str, table: str, *, read_only: bool = False) -> None:
        self.table = table
        self.read_only = read_only  # then the index is read as it is, never filled
        self._conn = connect(url)
        self._lock = threading.RLock()
        self._index = f"{table}_index"
        self._nodes = f"{table}_nodes"
        if not read_only:
            self._fill(-1)  # rows from before the index existed, once, in batches

    def complete(self) -> bool:
        """Whether every ledger row has its index row: the side tables exist and the
        per-(kind, action) counts, kept in each append's transaction with the index rows,
        add up to the ledger's size (a few rows read, not a count of the index)."""
        tables = self._conn.execute(
            "SELECT to_regclass(%s) IS NOT NULL AND to_regclass(%s) IS NOT NULL AND "
            "to_regclass(%s) IS NOT NULL AND to_regclass(%s) IS NOT NULL",
            (self._index, f"{self.table}_counts", self._nodes, f"{self.table}_backings")
        ).fetchone()
        if tables is None or not tables[0]:
            return False
        row = self._conn.execute(sql.SQL(
            "SELECT (SELECT coalesce(sum(n), 0) FROM {}), "
            "(SELECT coalesce(max(seq), -1) + 1 FROM {})").format(
                sql.Identifier(f"{self.table}_counts"), sql.Identifier(self.table))).fetchone()
        return row is not None and row[0] == row[1]

    def _fill(self, after: int) -> None:
        """Index ledger rows after seq `after` that have no index row, BATCH at a time."""
        if after < 0 and self.complete():
            return
        t, i = sql.Identifier(self.table), sql.Identifier(self._index)
        while True:
            with self._conn.transaction(), self._conn.cursor() as cursor:
                lines = cursor.execute(sql.SQL(
                    "SELECT line FROM {} t WHERE seq > %s AND NOT EXISTS (SELECT 1 FROM {} "
                    "WHERE seq = t.seq) ORDER BY seq LIMIT %s").format(t, i),
                    (after, BATCH)).fetchall()
                if not lines:
                    return
                records = [json.loads(line) for (line,) in lines]
                index_rows(cursor, self.table, records)
                after = records[-1]["seq"]

    def refresh(self) -> int:
        """Index rows appended without an index row since (by an older writer) and grow
        the stored Merkle subtrees to the ledger's size: three lookups in one statement
        when there is nothing to do. Returns the ledger's size."""
        row = self._conn.execute(f"SELECT {self._state}".encode(), (NODE_LEVEL,)).fetchone()
        return 0 if row is None else self._follow(*row)

    @property
    def _state(self) -> str:
        """Three lookups: the last indexed seq, the ledger's last seq, the stored blocks."""
        return (f"(SELECT coalesce(max(seq), -1) FROM {self._index}), (SELECT "
                f"coalesce(max(seq), -1) FROM {self.table}), (SELECT coalesce(max(idx), -1) "
                f"+ 1 FROM {self._nodes} WHERE level = %s)")

    def _current(self, indexed: int, last: int, filled: int) -> bool:
        """Whether `_follow` has nothing to do for this state."""
        return self.read_only or (indexed >= last and (last + 1) // BLOCK <= filled)

    def _follow(self, indexed: int, last: int, filled: int) -> int:
        """Bring the index and the stored subtrees up to the state `refresh` read."""
        if indexed < last and not self.read_only:
            self._fill(indexed)
        if (last + 1) // BLOCK > filled and not self.read_only:
            packed: list[tuple[int, int, bytes]] = []

            def reading(start: int, end: int) -> bytes:  # kept packed, a row per block
                data = self._ledger_leaves(start, end)
                packed.extend((PACKED, number, data[(number * BLOCK - start) * 32:
                                                    ((number + 1) * BLOCK - start) * 32])
                              for number in range(start // BLOCK, end // BLOCK))
                return data

            with self._conn.transaction(), self._conn.cursor() as cursor:
                made = grow_nodes(filled, last + 1, reading, self.node)
                cursor.executemany(sql.SQL("INSERT INTO {} VALUES (%s, %s, %s) ON CONFLICT "
                                           "DO NOTHING").format(sql.Identifier(self._nodes)),
                                   made + packed)
        return int(last) + 1

    def size(self) -> int:
        with self._lock:
            return self.refresh()

    def indexed(self) -> int:
        """The leaves of the complete blocks whose subtrees are stored (none is grown
        here): the rest are the ledger table's hashes, which a Ledger reads itself."""
        with self._lock:
            row = self._conn.execute(sql.SQL(
                "SELECT coalesce(max(idx), -1) + 1 FROM {} WHERE level = %s").format(
                    sql.Identifier(self._nodes)), (NODE_LEVEL,)).fetchone()
        return 0 if row is None else int(row[0]) * BLOCK

    def leaves(self, start: int, end: int) -> bytes:
        if start % BLOCK == 0 and end - start == BLOCK:
            found = self.node(PACKED, start // BLOCK)
            if found is not None and len(found) == BLOCK * 32:
                return found
        return self._ledger_leaves(start, end)

    def _ledger_leaves(self, start: int, end: int) -> bytes:
        with self._lock:
            rows = self._conn.execute(sql.SQL(
                "SELECT hash FROM {} WHERE seq >= %s AND seq < %s ORDER BY seq").format(
                    sql.Identifier(self.table)), (start, end)).fetchall()
        return b"".join(bytes.fromhex(h) for (h,) in rows)

    def node(self, level: int, index: int) -> bytes | None:
        with self._lock:
            row = self._conn.execute(sql.SQL(
                "SELECT hash FROM {} WHERE level = %s AND idx = %s").format(
                    sql.Identifier(self._nodes)), (level, index)).fetchone()
        return bytes(row[0]) if row else None

    def nodes(self, wanted: list[tuple[int, int]]) -> dict[tuple[int, int], bytes]:
        """Stored subtrees and blocks' leaf data (LEAVES = PACKED keys) in one round trip:
        a complete block from its packed row, one not packed yet from the ledger.

        Whether a block is packed is a scalar subquery, one index probe per block asked
        for; a NOT EXISTS is planned as an anti join that reads every packed row, which
        grows with the ledger.
        """
        if not wanted:
            return {}
        blocks = [index for level, index in wanted if level == LEAVES]
        with self._lock:
            rows = self._conn.execute(sql.SQL(
                "SELECT n.level, n.idx, n.hash FROM {nodes} n JOIN unnest(%s::int[], "
                "%s::bigint[]) AS w(level, idx) ON n.level = w.level AND n.idx = w.idx "
                "UNION ALL SELECT %s, b.idx, (SELECT string_agg(decode(t.hash, 'hex'), "
                "''::bytea ORDER BY t.seq) FROM {ledger} t WHERE t.seq >= b.idx * %s AND "
                "t.seq < (b.idx + 1) * %s) FROM unnest(%s::bigint[]) AS b(idx) WHERE "
                "(SELECT 1 FROM {nodes} WHERE level = %s AND idx = b.idx) IS NULL").format(
                    nodes=sql.Identifier(self._nodes), ledger=sql.Identifier(self.table)),
                ([level for level, _ in wanted], [index for _, index in wanted], LEAVES,
                 BLOCK, BLOCK, blocks, PACKED)).fetchall()
        return {(int(level), int(index)): bytes(digest) for level, index, digest in rows
                if digest is not None}  # a block past the ledger's end has no leaves

    def _select(self, condition: str, params: list[Any], tail: str = "", *,
                source: str = "") -> list[dict[str, Any]]:
        """The records whose index rows (or rows of `source`) match, in the order `tail`
        gives: one round trip (the seqs from the index, in order, then their lines)."""
        query = (f"SELECT s.seq, t.line FROM unnest(ARRAY(SELECT seq FROM "
                 f"{source or self._index} WHERE {condition} {tail})) "
                 f"WITH ORDINALITY AS s(seq, n) "
                 f"JOIN {self.table} t ON t.seq = s.seq ORDER BY s.n")
        return [json.loads(line) for _, line in self._conn.execute(query.encode(), params)]

    def _where(self, keep: Filter, search: str = "") -> tuple[str, list[Any]]:
        return where(keep, search, mark="%s", fired_table=f"{self.table}_fired")

    def page(self, keep: Filter, *, search: str = "", limit: int = 50,
             before: int | None = None) -> Page:
        clause, params = self._where(keep, search)
        before = below(before)
        with self._lock:
            self.refresh()
            if unfiltered(keep, search):
                total, actions = counted(
                    (kind == "decision", None if action == NO_ACTION else action, n)
                    for kind, action, n in self._conn.execute(sql.SQL(
                        "SELECT kind, action, n FROM {} WHERE (%s = '' OR kind = %s) AND "
                        "(%s = '' OR action = %s)").format(
                            sql.Identifier(f"{self.table}_counts")),
                        (keep.kind, keep.kind, keep.action, keep.action)).fetchall())
            else:
                total, actions = counted(self._conn.execute(
                    f"SELECT kind = 'decision', action, count(*) FROM {self._index} WHERE "
                    f"{clause} GROUP BY 1, 2".encode(), params).fetchall())
            cursor = "" if before is None else " AND seq < %s"
            shown = self._select(clause + cursor, [*params, *([] if before is None
                                                              else [before]), limit + 1],
                                 "ORDER BY seq DESC LIMIT %s")
        more = len(shown) > limit
        shown = shown[:limit]
        return Page(shown, total, shown[-1]["seq"] if more and shown else None, actions)

    def get(self, record_id: str) -> dict[str, Any] | None:
        with self._lock:
            self.refresh()
            found = self._select("id = %s", [record_id])
        return found[0] if found else None

    def reviews_of(self, record_id: str) -> list[dict[str, Any]]:
        with self._lock:
            self.refresh()
            return self._select("decision = %s AND kind = 'review'", [record_id],
                                "ORDER BY seq")

    def escalations(self, keep: Filter | None = None, *,
                    reviewers: Mapping[str, int] | None = None, before: int | None = None,
                    limit: int | None = None
                    ) -> list[tuple[dict[str, Any], list[dict[str, Any]]]]:
        clause, params = self._where(keep or Filter())
        waiting, counts = ("TRUE", []) if reviewers is None else still_open(
            reviewers, backers_column="e.backers", constitution_column="e.constitution",
            mark="%s")
        below_seq = below(before)
        cursor = "" if below_seq is None else " AND e.seq < %s"
        with self._lock:
            self.refresh()
            # driven by the escalations (open ones only, by `backers`), each checked
            # against the filter by its seq
            decisions = self._select(
                f"{waiting}{cursor} AND EXISTS (SELECT 1 FROM {self._index} i WHERE i.seq = "
                f"e.seq AND {clause})",
                [*counts, *([] if below_seq is None else [below_seq]), *params,
                 *([] if limit is None else [limit])],
                "ORDER BY seq DESC" + ("" if limit is None else " LIMIT %s"),
                source=f"{self.table}_escalations e")
            reviews: dict[str, list[dict[str, Any]]] = {}
            ids = [d["id"] for d in decisions]
            for review in self._select("kind = 'review' AND decision = ANY(%s)", [ids],
                                       "ORDER BY seq"):
                reviews.setdefault(review["body"]["decision"], []).append(review)
        return [(d, reviews.get(d["id"], [])) for d in decisions]

    def matching(self, keep: Filter, *, start: int = 0) -> Iterator[dict[str, Any]]:
        clause, params = self._where(keep)
        after = start - 1
        while True:
            with self._lock:
                self.refresh()
                chunk = self._select(f"{clause} AND seq > %s", [*params, after],
                                     "ORDER BY seq LIMIT 1000")
            yield from chunk
            if len(chunk) < 1000:
                return
            after = chunk[-1]["seq"]

    def labels(self) -> tuple[list[str], list[str]]:
        with self._lock:
            self.refresh()
            rows = self._conn.execute(sql.SQL("SELECT name, value FROM {}")
                                      .format(sql.Identifier(f"{self.table}_labels"))
                                      ).fetchall()
        return (sorted(v for n, v in rows if n == "version"),
                sorted(v for n, v in rows if n == "app"))

    def checkpointed(self) -> int:
        found = self.last_checkpoint()
        return int(found["size"]) if found else 0

    def last_checkpoint(self) -> dict[str, Any] | None:
        with self._lock:
            self.refresh()
            return latest_signed(lambda before: self._select(
                "kind = 'checkpoint' AND seq < %s", [before], f"ORDER BY seq DESC LIMIT {LOOK}"))

    def with_checkpoint(self, record_id: str
                        ) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
        """The record and the latest checkpoint, with `refresh`'s state in the same round
        trip: a second look only when the index had to catch up first."""
        wanted = (f"seq IN (SELECT seq FROM {self._index} WHERE id = %s UNION ALL (SELECT "
                  f"seq FROM {self._index} WHERE kind = 'checkpoint' ORDER BY seq DESC "
                  "LIMIT 1))")
        with self._lock:
            rows = self._conn.execute(
                f"SELECT NULL::bigint, NULL::text, {self._state} UNION ALL SELECT t.seq, "
                f"t.line, NULL, NULL, NULL FROM {self.table} t WHERE t.seq IN (SELECT seq "
                f"FROM {self._index} WHERE {wanted})".encode(),
                (NODE_LEVEL, record_id)).fetchall()
            state = next(row[2:] for row in rows if row[1] is None)
            found = sorted((json.loads(row[1]) for row in rows if row[1] is not None),
                           key=lambda r: int(r["seq"]))
            if not self._current(*state):
                self._follow(*state)
                found = self._select(wanted, [record_id], "ORDER BY seq")
        record = next((r for r in found if r["id"] == record_id), None)
        checkpoints = [r for r in found if r["kind"] == "checkpoint"]
        if checkpoints and not signed(checkpoints[-1].get("body")):
            return record, self.last_checkpoint()  # the latest is a script's: look further
        return record, dict(checkpoints[-1]["body"]) if checkpoints else None

    def close(self) -> None:
        self._conn.close()
