"""The shared store: one PostgreSQL table, one chain for many processes on many machines.

Appends serialise on a transaction-scoped advisory lock, read the head inside that
transaction (one round trip for both), and COPY the whole sealed batch; COMMIT is the
durability point (PostgreSQL's own WAL fsync). A trigger refuses UPDATE, DELETE and
TRUNCATE, so even the application's own database role cannot rewrite history through SQL
DML.

No writer can hold the others up for long: the lock is waited for at most `lock_timeout`
seconds (`lock_timeout` applies to advisory locks), and a session left idle inside a
transaction (a process stuck while holding the lock) is ended by the server after
`IDLE_LIMIT` times that, which releases the lock. Opened `read_only`, the store creates
nothing.

Beside the ledger table, `<table>_index` (and `_fired`, `_labels`) hold the fields reads
filter on, written in the same transaction as each append (the ledger table itself is
never updated); see `supervisor.ledger.postgres_index`.

`SUPERVISOR_LEDGER=postgresql://user@host/db?table=NAME` (table defaults to
`supervisor_ledger`; the `table` parameter is ours and is removed before connecting).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import psycopg
from psycopg import sql

from supervisor.errors import LedgerError
from supervisor.ledger.canonical import GENESIS
from supervisor.ledger.index import NO_ACTION
from supervisor.ledger.jsonl import LOCK_TIMEOUT_S, Seal
from supervisor.ledger.postgres_index import append_rows, connect, fill_reviews, index_tables

DEFAULT_TABLE = "supervisor_ledger"
IDLE_LIMIT = 3  # idle-in-transaction limit, in lock timeouts


def split_url(url: str) -> tuple[str, str]:
    """The connection URL without our `table` parameter, and the table name."""
    parts = urlsplit(url)
    query = dict(parse_qsl(parts.query))
    table = query.pop("table", DEFAULT_TABLE)
    if not re.fullmatch(r"[a-z_][a-z0-9_]{0,62}", table):
        raise LedgerError(f"table name {table!r}: use lowercase letters, digits and _")
    return urlunsplit(parts._replace(query=urlencode(query))), table


class PostgresStore:
    """Append-only records in a PostgreSQL table; `append` is durable at COMMIT."""

    def __init__(self, url: str, *, lock_timeout: float = LOCK_TIMEOUT_S,
                 read_only: bool = False) -> None:
        self.url, self.table = split_url(url)
        self.lock_timeout = lock_timeout
        self.torn: list[str] = []
        self._lock_key = int.from_bytes(hashlib.sha256(self.table.encode()).digest()[:8],
                                        "big", signed=True)
        try:
            self._conn = connect(self.url)
            idle = f"{int(lock_timeout * IDLE_LIMIT * 1000)}ms"
            self._conn.execute(sql.SQL("SET idle_in_transaction_session_timeout = {}").format(
                sql.Literal(idle)))
        except psycopg.Error as exc:
            raise LedgerError(f"cannot connect to the ledger database: {exc}; check "
                              "SUPERVISOR_LEDGER and that PostgreSQL is running") from None
        self.indexed = not read_only  # the side table is written with every append
        if not read_only:
            self._create()

    @property
    def name(self) -> str:
        return f"postgresql:{self.table}"

    def _create(self) -> None:
        t = sql.Identifier(self.table)
        guard = sql.Identifier(f"{self.table}_append_only")
        with self._conn.transaction():
            self._lock()
            self._conn.execute(sql.SQL(
                "CREATE TABLE IF NOT EXISTS {} (seq bigint PRIMARY KEY, id text UNIQUE NOT NULL,"
                " ts text NOT NULL, kind text NOT NULL, hash text NOT NULL, line text NOT NULL)"
            ).format(t))
            self._conn.execute(sql.SQL(
                "CREATE OR REPLACE FUNCTION {}() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
                "RAISE EXCEPTION 'the audit ledger is append-only: % refused', TG_OP; END $$"
            ).format(guard))
            counts = sql.Identifier(f"{self.table}_counts")
            row = self._conn.execute(
                "SELECT to_regclass(%s) IS NULL OR to_regclass(%s) IS NULL, "
                "to_regclass(%s) IS NULL AND to_regclass(%s) IS NOT NULL",
                (f"{self.table}_counts", f"{self.table}_index", f"{self.table}_backings",
                 f"{self.table}_index")).fetchone()
            for statement in index_tables(self.table):
                self._conn.execute(statement)
            if row is not None and row[1]:  # an index from before escalations were kept
                with self._conn.cursor() as cursor:
                    fill_reviews(cursor, self.table)
            if row is not None and row[0]:  # an index from before counts, or a new index
                self._conn.execute(sql.SQL("DELETE FROM {}").format(counts))
                self._conn.execute(sql.SQL(
                    "INSERT INTO {} SELECT kind, coalesce(action, %s), count(*) FROM {} "
                    "GROUP BY 1, 2").format(counts, sql.Identifier(f"{self.table}_index")),
                    (NO_ACTION,))
            for operation, each in (("UPDATE OR DELETE", "ROW"), ("TRUNCATE", "STATEMENT")):
                name = sql.Identifier(f"{self.table}_refuse_{operation.split()[0].lower()}")
                self._conn.execute(sql.SQL("DROP TRIGGER IF EXISTS {} ON {}").format(name, t))
                self._conn.execute(sql.SQL(
                    "CREATE TRIGGER {} BEFORE " + operation + " ON {} FOR EACH " + each
                    + " EXECUTE FUNCTION {}()").format(name, t, guard))

    def append(self, seal: Seal) -> list[dict[str, Any]]:
        """Lock, read the head, seal, then COPY the batch and its index rows; one round
        trip for the lock and the head, one COPY each, and COMMIT."""
        t = sql.Identifier(self.table)
        try:
            with self._conn.transaction():
                with self._conn.pipeline():
                    self._lock()
                    found = self._conn.execute(sql.SQL(
                        "SELECT seq, hash FROM {} ORDER BY seq DESC LIMIT 1").format(t))
                row = found.fetchone()
                next_seq, head = (row[0] + 1, row[1]) if row else (0, GENESIS)
                records = seal(next_seq, head)
                parsed = [json.loads(r["line"]) for r in records]
                with self._conn.cursor() as cursor:
                    with cursor.copy(sql.SQL("COPY {} (seq, id, ts, kind, hash, line) FROM "
                                             "STDIN").format(t)) as copy:
                        for r, record in zip(records, parsed, strict=True):
                            copy.write_row((r["seq"], r["id"], record["ts"], r["kind"],
                                            r["hash"], r["line"].decode()))
                    if self.indexed:
                        append_rows(cursor, self.table, parsed)
        except psycopg.errors.LockNotAvailable:
            raise LedgerError(
                f"the ledger table {self.table} stayed locked by another writer for "
                f"{self.lock_timeout:g} s; look for a stuck session in pg_stat_activity "
                "or raise SUPERVISOR_LEDGER_TIMEOUT") from None
        except psycopg.Error as exc:
            raise LedgerError(f"append to {self.table} failed: {exc}") from None
        return records

    def _lock(self) -> None:
        """Take the table's append lock for this transaction, waiting `lock_timeout` at most."""
        self._conn.execute(sql.SQL("SET LOCAL lock_timeout = {}").format(
            sql.Literal(f"{int(self.lock_timeout * 1000)}ms")))
        self._conn.execute("SELECT pg_advisory_xact_lock(%s)", (self._lock_key,))

    def hashes(self, start: int, end: int | None = None) -> list[tuple[int, str]]:
        """(seq, hash) of the records in [start, end) (end None: to the last), read on the
        store's own connection (inside an append's transaction too): a Ledger following
        another process's appends needs no new connection for them."""
        t = sql.Identifier(self.table)
        if end is None:
            query = sql.SQL("SELECT seq, hash FROM {} WHERE seq >= %s ORDER BY seq").format(t)
            return [(int(s), str(h)) for s, h in self._conn.execute(query, (start,))]
        query = sql.SQL("SELECT seq, hash FROM {} WHERE seq >= %s AND seq < %s ORDER BY seq"
                        ).format(t)
        return [(int(s), str(h)) for s, h in self._conn.execute(query, (start, end))]

    def lines(self, start: int = 0) -> Iterator[bytes]:
        """Stored lines from seq `start` on, in order (an index range scan).

        Streamed by COPY in binary with the text column read as bytes: no round trip per
        batch as a cursor makes, and no decode and re-encode of each line, which a full
        verify of millions of lines otherwise spends most of its reading time on.
        """
        query = sql.SQL("COPY (SELECT line FROM {} WHERE seq >= {} ORDER BY seq) "
                        "TO STDOUT (FORMAT BINARY)").format(sql.Identifier(self.table),
                                                            sql.Literal(int(start)))
        with connect(self.url, autocommit=False) as conn, conn.cursor() as cursor, \
                cursor.copy(query) as copy:
            copy.set_types(["bytea"])  # a text field's binary form is its UTF-8 bytes
            for (line,) in copy.rows():
                yield line

    def close(self) -> None:
        self._conn.close()
