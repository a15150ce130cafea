"""PostgreSQL ledger tables for tests: the server, and dropping a table with its side tables."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import psycopg

SERVER = "postgresql://postgres@127.0.0.1:5432/test"
SIDES = ("", "_index", "_fired", "_labels", "_nodes", "_counts", "_escalations", "_backings")


def drop(table: str) -> None:
    """Remove a ledger table, every side table the store and its index made, its trigger."""
    with psycopg.connect(SERVER, autocommit=True) as conn:
        for suffix in SIDES:
            conn.execute(f"DROP TABLE IF EXISTS {table}{suffix}")
        conn.execute(f"DROP FUNCTION IF EXISTS {table}_append_only")


def fresh(prefix: str) -> Iterator[str]:
    """A table name no other test uses, dropped afterwards (for a fixture to yield from)."""
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    yield name
    drop(name)
