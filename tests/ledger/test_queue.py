"""The review queue read through the index holds exactly the open escalations: SQL leaves
out the closed ones (per constitution's `defaults.reviewers`), and what is left equals
the reference answer (`api.reviews.open_escalations` over every escalation)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from api.reviews import open_escalations
from supervisor.constitution import Constitution, load_constitution
from supervisor.ledger.canonical import canonical
from supervisor.ledger.export import Filter
from supervisor.ledger.index import Query, ScanQuery, SqliteIndex, open_query
from supervisor.ledger.jsonl import JsonlStore, seal_records
from supervisor.ledger.postgres import PostgresStore
from supervisor.ledger.quorum import quorums
from tests.ledger.tables import SERVER, fresh

FOUR_EYES = Path(__file__).resolve().parent.parent / "console" / "four-eyes.yaml"
Entry = tuple[str, str, str, bytes]


@pytest.fixture(scope="module")
def constitutions() -> dict[str, Constitution]:
    """finance (one reviewer closes) and four-eyes (two different reviewers close)."""
    loaded = [load_constitution("finance"), load_constitution(str(FOUR_EYES))]
    assert {c.id: c.defaults.reviewers for c in loaded} == {"finance": 1, "four-eyes": 2}
    return {c.id: c for c in loaded}


def escalated(record_id: str, constitution: str | None, day: str = "23") -> Entry:
    body: dict[str, Any] = {"action": "escalate", "stage": "output", "violated": ["advice"]}
    if constitution is not None:
        body["provenance"] = {"constitution": {"id": constitution, "version": "1.0.0"}}
    return record_id, f"2026-11-{day}T09:00:00.000000Z", "decision", canonical(body)


def review(decision: str, n: int, verdict: str, reviewer: Any, text: str | None = None
           ) -> Entry:
    body = {"decision": decision, "verdict": verdict, "reviewer": reviewer,
            "text_sha256": text}
    return f"rec_r{n:03d}_{decision}", "2026-11-24T10:00:00.000000Z", "review", canonical(body)


def ledger_entries() -> list[Entry]:
    """Open, closed and partly reviewed escalations under each kind of constitution."""
    entries = [
        escalated("rec_f_none", "finance"),          # open: no review
        escalated("rec_f_note", "finance"),          # open: a note closes nothing
        escalated("rec_f_agree", "finance"),         # closed by one agree
        escalated("rec_f_over", "finance", "22"),    # closed by one override
        escalated("rec_4_one", "four-eyes"),         # open: 1 of 2
        escalated("rec_4_same", "four-eyes"),        # open: the same person twice
        escalated("rec_4_split", "four-eyes"),       # open: agree and override disagree
        escalated("rec_4_texts", "four-eyes"),       # open: two overrides, two texts
        escalated("rec_4_two", "four-eyes", "22"),   # closed: two different people
        escalated("rec_4_over", "four-eyes"),        # closed: two overrides, one text
        escalated("rec_x_agree", "unloaded"),        # closed: one reviewer by default
        escalated("rec_n_agree", None),              # closed: no constitution recorded
        escalated("rec_n_none", None),               # open
        ("rec_allow", "2026-11-23T09:00:00.000000Z", "decision",
         canonical({"action": "allow"})),            # never in the queue
    ]
    reviews = [
        ("rec_f_note", "note", "ann", None), ("rec_f_agree", "agree", "ann", None),
        ("rec_f_over", "override", "bob", "t1"), ("rec_4_one", "agree", "ann", None),
        ("rec_4_same", "agree", "ann", None), ("rec_4_same", "agree", "ann", None),
        ("rec_4_split", "agree", "ann", None), ("rec_4_split", "override", "bob", "t1"),
        ("rec_4_texts", "override", "ann", "t1"), ("rec_4_texts", "override", "bob", "t2"),
        ("rec_4_two", "note", "cy", None), ("rec_4_two", "agree", "ann", None),
        ("rec_4_two", "agree", "bob", None), ("rec_4_over", "override", "ann", "t1"),
        ("rec_4_over", "override", "bob", "t1"), ("rec_x_agree", "agree", "ann", None),
        ("rec_n_agree", "agree", "ann", None), ("rec_allow", "agree", "ann", None),
    ]
    return entries + [review(d, n, v, who, text) for n, (d, v, who, text)
                      in enumerate(reviews)]


OPEN = ["rec_n_none", "rec_4_texts", "rec_4_split", "rec_4_same", "rec_4_one",
        "rec_f_note", "rec_f_none"]  # newest first
PERIODS = [Filter(), Filter(since="2026-11-23"), Filter(until="2026-11-22"),
           Filter(constitution="four-eyes")]


def reference(store: Any, keep: Filter, constitutions: dict[str, Constitution]
              ) -> list[str]:
    """The queue as it was read before: every escalation, closed ones dropped after."""
    return [r["id"] for r, _ in open_escalations(ScanQuery(store).escalations(keep),
                                                 constitutions)]


def check(index: Query, store: Any, constitutions: dict[str, Constitution]) -> None:
    reviewers = quorums(constitutions)
    for keep in PERIODS:
        found = index.escalations(keep, reviewers=reviewers)
        # SQL left every closed one out ...
        assert [r["id"] for r, _ in found] == reference(store, keep, constitutions)
        # ... and what is left, with its reviews, is the reference's
        assert open_escalations(found, constitutions) == open_escalations(
            ScanQuery(store).escalations(keep), constitutions)
        assert found == ScanQuery(store).escalations(keep, reviewers=reviewers)
    assert [r["id"] for r, _ in index.escalations(reviewers=reviewers)] == OPEN
    assert len(index.escalations()) == 13  # without `reviewers`: every escalation
    for keep in PERIODS:  # pages of the queue, walked down by `before`, make the whole
        for limit, quorum in ((1, reviewers), (2, reviewers), (5, None)):
            whole = index.escalations(keep, reviewers=quorum)
            walked: list[Any] = []
            before = None
            while True:
                page = index.escalations(keep, reviewers=quorum, before=before, limit=limit)
                assert page == ScanQuery(store).escalations(
                    keep, reviewers=quorum, before=before, limit=limit)
                assert len(page) <= limit
                walked += page
                assert len(walked) <= len(whole)  # a cursor that does not move fails here
                if len(page) < limit:
                    break
                before = page[-1][0]["seq"]
            assert walked == whole



def check_and_close(index: Query, store: Any, constitutions: dict[str, Constitution]) -> None:
    """`check`, then close the index and its store whatever it found."""
    try:
        check(index, store, constitutions)
    finally:
        index.close()
        store.close()

def test_the_jsonl_queue_is_the_open_escalations(
        tmp_path: Path, constitutions: dict[str, Constitution]) -> None:
    """On the sidecar, the queue equals the reference, then follows a closing review."""
    store = JsonlStore(tmp_path, segment_records=5)
    entries = ledger_entries()
    store.append(seal_records(entries[:9]))  # escalations and reviews in two batches
    store.append(seal_records(entries[9:]))
    index = SqliteIndex(store)
    try:
        check(index, store, constitutions)
        store.append(seal_records([review("rec_4_one", 90, "agree", "bob")]))
        ids = [r["id"] for r, _ in index.escalations(reviewers=quorums(constitutions))]
        assert "rec_4_one" not in ids and len(ids) == len(OPEN) - 1
    finally:
        index.close()
        store.close()


def test_a_sidecar_of_the_older_schema_is_rebuilt_with_escalations(
        tmp_path: Path, constitutions: dict[str, Constitution]) -> None:
    """A sidecar written before escalations were indexed is rebuilt, not misread."""
    store = JsonlStore(tmp_path)
    store.append(seal_records(ledger_entries()))
    SqliteIndex(store).close()
    import sqlite3

    with sqlite3.connect(tmp_path / "index.sqlite") as conn:
        conn.execute("UPDATE meta SET value = '2' WHERE key = 'schema'")
        conn.execute("DELETE FROM escalations")
    index = SqliteIndex(store)
    check_and_close(index, store, constitutions)


@pytest.fixture
def table() -> Iterator[str]:
    yield from fresh("queue_test")


@pytest.mark.postgres
def test_the_postgres_queue_is_the_open_escalations(
        table: str, constitutions: dict[str, Constitution]) -> None:
    """In SQL over the side tables, the queue equals the reference."""
    store = PostgresStore(f"{SERVER}?table={table}")
    entries = ledger_entries()
    store.append(seal_records(entries[:9]))
    store.append(seal_records(entries[9:]))
    index = open_query(store)
    check_and_close(index, store, constitutions)


@pytest.mark.postgres
def test_a_postgres_index_from_before_escalations_is_filled(
        table: str, constitutions: dict[str, Constitution]) -> None:
    """A ledger whose index predates the escalation tables gets them filled when a writer
    opens it, from the index and the reviews' lines."""
    url = f"{SERVER}?table={table}"
    store = PostgresStore(url)
    store.append(seal_records(ledger_entries()))
    store.close()
    with psycopg.connect(SERVER, autocommit=True) as conn:
        for suffix in ("_escalations", "_backings"):
            conn.execute(f"DROP TABLE {table}{suffix}")
    reader = PostgresStore(url, read_only=True)
    assert isinstance(open_query(reader), ScanQuery)  # not complete: scanned, not misread
    store = PostgresStore(url)
    index = open_query(store)
    reader.close()
    check_and_close(index, store, constitutions)
