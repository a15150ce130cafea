"""The PostgreSQL index answers as `Filter` over every record, and fills itself for rows
written before it existed."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import psycopg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from supervisor.ledger.canonical import canonical
from supervisor.ledger.export import Filter
from supervisor.ledger.index import ScanQuery, open_query
from supervisor.ledger.jsonl import seal_records
from supervisor.ledger.postgres import PostgresStore
from supervisor.ledger.postgres_index import PostgresQuery
from tests.ledger.tables import SERVER, drop, fresh
from tests.ledger.test_index import ACTIONS, bodies, filters, same_answers

pytestmark = pytest.mark.postgres


@pytest.fixture
def table() -> Iterator[str]:
    yield from fresh("index_test")


def fill(store: PostgresStore, count: int, data: st.DataObject, ids: list[str]) -> None:
    pending = []
    for _ in range(count):
        kind, ts, body = data.draw(bodies(ids))
        ids.append(f"rec_{len(ids):04d}x")
        pending.append((ids[-1], ts, kind, canonical(body)))
    if pending:
        store.append(seal_records(pending))


@settings(max_examples=25, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(data=st.data(), keep=filters(), first=st.integers(5, 40), more=st.integers(0, 10))
def test_the_postgres_index_answers_as_the_filter_over_every_record(
        data: st.DataObject, keep: Filter, first: int, more: int) -> None:
    """On random ledgers, SQL over the side tables gives the full scan's answers, before
    and after more appends."""
    name = f"index_prop_{uuid.uuid4().hex[:10]}"
    store = PostgresStore(f"{SERVER}?table={name}")
    try:
        ids: list[str] = []
        fill(store, first, data, ids)
        index, scan = open_query(store), ScanQuery(store)
        assert isinstance(index, PostgresQuery)
        same_answers(index, scan, keep, ids, data)
        fill(store, more, data, ids)
        same_answers(index, scan, keep, ids, data)
        index.close()
    finally:
        store.close()
        drop(name)


def test_rows_written_before_the_index_are_back_filled(table: str) -> None:
    """A ledger whose side tables are gone (rows from before them) is indexed again when
    opened, and a read-only look uses the filled index."""
    url = f"{SERVER}?table={table}"
    store = PostgresStore(url)
    store.append(seal_records([(f"rec_{i}", "2026-11-23T09:00:00.000000Z", "decision",
                                canonical({"action": ACTIONS[i % 5], "i": i}))
                               for i in range(12_000)]))
    store.close()
    with psycopg.connect(SERVER, autocommit=True) as conn:
        for suffix in ("_index", "_fired", "_labels"):
            conn.execute(f"DROP TABLE {table}{suffix}")
    reader = PostgresStore(url, read_only=True)
    assert isinstance(open_query(reader), ScanQuery)  # nothing to read an index from
    filled_on_open(url, reader)


def filled_on_open(url: str, reader: PostgresStore) -> None:
    """A writer's open fills the index: it answers as the scan does, and the read-only
    `reader` reads it from then on."""
    store = PostgresStore(url)
    index = open_query(store)
    assert isinstance(index, PostgresQuery) and index.complete()
    assert index.page(Filter(action="block"), limit=50) == \
        ScanQuery(store).page(Filter(action="block"), limit=50)
    assert isinstance(open_query(reader), PostgresQuery)
    index.close()
    store.close()
    reader.close()


def test_rows_an_older_writer_left_unindexed_are_found_and_filled(table: str) -> None:
    """Rows appended without their index rows (a writer from before the index) make the
    index incomplete, though every side table exists; a writer's open fills them."""
    url = f"{SERVER}?table={table}"
    store = PostgresStore(url)
    store.append(seal_records([(f"rec_{i}", "2026-11-23T09:00:00.000000Z", "decision",
                                canonical({"action": ACTIONS[i % 5], "i": i}))
                               for i in range(30)]))
    store.indexed = False  # as an older version wrote: the ledger rows alone
    store.append(seal_records([(f"rec_{i}", "2026-11-23T09:00:01.000000Z", "decision",
                                canonical({"action": "block", "i": i})) for i in range(30, 40)]))
    store.close()
    reader = PostgresStore(url, read_only=True)
    looking = PostgresQuery(reader.url, reader.table, read_only=True)
    assert not looking.complete()
    assert isinstance(open_query(reader), ScanQuery)  # an incomplete index is not trusted
    looking.close()
    filled_on_open(url, reader)
