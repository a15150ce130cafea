"""The JSONL ledger's SQLite index answers exactly as `Filter` over every record does,
keeps up with appends (any process's), and is rebuilt when missing, corrupt or stale."""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from supervisor.ledger.canonical import canonical
from supervisor.ledger.export import Filter
from supervisor.ledger.index import SIDECAR, Query, ScanQuery, SqliteIndex
from supervisor.ledger.jsonl import JsonlStore, seal_records

ACTIONS = ["allow", "revise", "block", "escalate", "error"]
PRINCIPLES = ["phi", "pan", "tone"]
DAYS = ["2026-11-22", "2026-11-23", "2026-11-24"]


@st.composite
def bodies(draw: st.DrawFn, ids: list[str]) -> tuple[str, str, dict[str, Any]]:
    """(kind, ts, body) of one record, from the small vocabularies filters ask about."""
    ts = f"{draw(st.sampled_from(DAYS))}T{draw(st.sampled_from(['00:00:00', '09:30:00', '23:59:59']))}.{draw(st.integers(0, 999999)):06d}Z"  # noqa: E501
    kind = draw(st.sampled_from(["decision", "decision", "decision", "review", "access",
                                 "checkpoint"]))
    if kind == "review":
        return kind, ts, {"decision": draw(st.sampled_from([*ids, "rec_gone"])) if ids
                          else "rec_gone",
                          "verdict": draw(st.sampled_from(["agree", "override", "note"])),
                          "reviewer": draw(st.sampled_from(["ann", "bob"])),
                          "text_sha256": draw(st.sampled_from([None, "t1", "t2"]))}
    if kind == "checkpoint":  # signed (size and root), or a script's without them
        return kind, ts, draw(st.sampled_from([{"size": len(ids), "root": "ab"},
                                               {"size": len(ids)}, {"note": "x"}]))
    if kind == "access":
        return kind, ts, {"what": "list", "actor": "auditor"}
    body: dict[str, Any] = {
        "action": draw(st.sampled_from(ACTIONS)),
        "stage": draw(st.sampled_from(["input", "output"])),
        "violated": draw(st.lists(st.sampled_from(PRINCIPLES), max_size=2, unique=True)),
        "revisions": [{"round": 1, "principles": draw(st.lists(st.sampled_from(PRINCIPLES),
                                                                max_size=2))}],
        "context": draw(st.fixed_dictionaries({}, optional={
            "app_id": st.sampled_from(["clinic", "bank"]),
            "user_ref": st.sampled_from(["u1", "u2"])})),
    }
    if draw(st.booleans()):
        body["provenance"] = {"constitution": {"id": draw(st.sampled_from(["healthcare",
                                                                           "finance"])),
                                               "version": draw(st.sampled_from(["1.0",
                                                                                "2.0"]))}}
    return kind, ts, body


def fill(store: JsonlStore, count: int, data: st.DataObject, ids: list[str]) -> None:
    """Append `count` drawn records to the store in one or two batches."""
    pending = []
    for _ in range(count):
        kind, ts, body = data.draw(bodies(ids))
        record_id = f"rec_{len(ids):04d}x"
        ids.append(record_id)
        pending.append((record_id, ts, kind, canonical(body)))
    half = len(pending) // 2
    for batch in (pending[:half], pending[half:]):
        if batch:
            store.append(seal_records(batch))


CHOICES = {
    "since": st.sampled_from([*DAYS, "2026-11-23T09:30:00Z", "2026-11-23T10:30:00+01:00"]),
    "until": st.sampled_from([*DAYS, "2026-11-23T09:30:00.5Z"]),
    "kind": st.sampled_from(["decision", "review", "access"]),
    "action": st.sampled_from(ACTIONS),
    "principle": st.sampled_from(PRINCIPLES),
    "constitution": st.sampled_from(["healthcare", "finance@2.0", "@1.0", "healthcare@9"]),
    "app": st.sampled_from(["clinic", "bank"]),
    "stage": st.sampled_from(["input", "output"]),
    "user_ref": st.sampled_from(["u1", "u2"]),
}


@st.composite
def filters(draw: st.DrawFn) -> Filter:
    """A filter on up to three fields (more would match almost nothing)."""
    names = draw(st.lists(st.sampled_from(sorted(CHOICES)), max_size=3, unique=True))
    return Filter(**{name: draw(CHOICES[name]) for name in names})


def same_answers(index: Query, scan: Query, keep: Filter, ids: list[str],
                 data: st.DataObject) -> None:
    """Every query the console, the API and the CLI make agrees with the full scan."""
    search = data.draw(st.sampled_from(["", "X", "00", "zz"]))
    limit = data.draw(st.integers(1, 8))
    before = data.draw(st.one_of(st.none(), st.integers(0, len(ids) + 1)))
    assert index.page(keep, search=search, limit=limit, before=before) == \
        scan.page(keep, search=search, limit=limit, before=before)
    assert list(index.matching(keep)) == list(scan.matching(keep))
    start = data.draw(st.integers(0, len(ids) + 1))
    assert list(index.matching(keep, start=start)) == list(scan.matching(keep, start=start))
    assert index.escalations(keep) == scan.escalations(keep)
    reviewers = data.draw(st.sampled_from([{}, {"finance": 2}, {"healthcare": 2, "finance": 1},
                                           {"healthcare": 3, "finance": 2}]))
    assert index.escalations(keep, reviewers=reviewers) == \
        scan.escalations(keep, reviewers=reviewers)
    for record_id in [*ids[:3], *ids[-3:], "rec_gone"]:
        assert index.get(record_id) == scan.get(record_id)
        assert index.reviews_of(record_id) == scan.reviews_of(record_id)
        assert index.with_checkpoint(record_id) == scan.with_checkpoint(record_id)
    assert index.labels() == scan.labels()
    assert index.checkpointed() == scan.checkpointed()


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), keep=filters(), first=st.integers(5, 40), more=st.integers(0, 12))
def test_the_index_answers_as_the_filter_over_every_record(
        data: st.DataObject, keep: Filter, first: int, more: int) -> None:
    """On random ledgers spread over several segments, every indexed answer (page, count
    per action, by id, reviews, queue, export) equals the full scan's, before and after
    more records are appended."""
    with tempfile.TemporaryDirectory() as folder:
        store = JsonlStore(Path(folder), segment_records=7)
        ids: list[str] = []
        fill(store, first, data, ids)
        index, scan = SqliteIndex(store), ScanQuery(store)
        try:
            same_answers(index, scan, keep, ids, data)
            fill(store, more, data, ids)
            same_answers(index, scan, keep, ids, data)
        finally:
            index.close()
            store.close()


def ledger_of(folder: Path, count: int, *, tag: str = "a") -> JsonlStore:
    store = JsonlStore(folder, segment_records=10)
    store.append(seal_records([(f"rec_{tag}{i}", f"2026-11-23T09:{i % 60:02d}:00.000000Z",
                                "decision", canonical({"action": ACTIONS[i % 5], "i": i}))
                               for i in range(count)]))
    return store


def test_a_missing_sidecar_is_rebuilt(tmp_path: Path) -> None:
    """Deleting index.sqlite loses nothing: the next read indexes every line again."""
    store = ledger_of(tmp_path, 25)
    SqliteIndex(store).close()
    for path in tmp_path.glob(f"{SIDECAR}*"):
        path.unlink()
    index = SqliteIndex(store)
    assert index.page(Filter(action="block"), limit=2) == \
        ScanQuery(store).page(Filter(action="block"), limit=2)
    assert index.size() == 25
    index.close()


def test_a_corrupt_sidecar_is_rebuilt(tmp_path: Path) -> None:
    """A sidecar overwritten with junk is dropped and built again, not trusted or fatal."""
    store = ledger_of(tmp_path, 25)
    first = SqliteIndex(store)
    assert first.get("rec_a3") is not None
    first.close()
    for path in tmp_path.glob(f"{SIDECAR}-*"):
        path.unlink()
    (tmp_path / SIDECAR).write_bytes(b"not a database at all" * 100)
    index = SqliteIndex(store)
    assert index.get("rec_a3") == ScanQuery(store).get("rec_a3")
    assert index.size() == 25
    index.close()


def test_a_sidecar_of_a_replaced_ledger_is_rebuilt(tmp_path: Path) -> None:
    """When the ledger's files are replaced by another chain of the same length, the hash
    at the last indexed seq differs, and the index is rebuilt from the new lines."""
    folder = tmp_path / "ledger"
    store = ledger_of(folder, 25, tag="a")
    SqliteIndex(store).close()
    store.close()
    other = ledger_of(tmp_path / "other", 25, tag="b")
    other.close()
    for segment in folder.glob("ledger-*.jsonl"):
        segment.write_bytes((tmp_path / "other" / segment.name).read_bytes())
    index = SqliteIndex(JsonlStore(folder, segment_records=10))
    assert index.get("rec_a3") is None
    # get() is Optional; the first half of the line checks it
    assert index.get("rec_b3") is not None and index.get("rec_b3")["seq"] == 3  # type: ignore[index]
    index.close()


def test_a_shorter_replacement_ledger_is_rebuilt(tmp_path: Path) -> None:
    """A ledger cut back below what the sidecar indexed is noticed on the next read."""
    store = ledger_of(tmp_path, 25)
    index = SqliteIndex(store)
    assert index.size() == 0 or index.get("rec_a24") is not None
    segments = sorted(tmp_path.glob("ledger-*.jsonl"))
    segments[-1].unlink()
    segments[-2].write_bytes(b"")
    assert index.get("rec_a24") is None
    assert index.page(Filter(), limit=100) == ScanQuery(store).page(Filter(), limit=100)
    index.close()


def test_another_process_appends_are_indexed_when_read(tmp_path: Path) -> None:
    """Records appended by another process (through the public API) show up on our next
    read, and the index only adds the new lines to what it had."""
    store = ledger_of(tmp_path, 5)
    index = SqliteIndex(store)
    assert index.page(Filter(), limit=1).total == 5
    script = textwrap.dedent(f"""
        import asyncio
        from supervisor.ledger import open_ledger
        from supervisor.settings import Settings
        async def main():
            s = Settings(ledger={str(tmp_path)!r}, checkpoint_every=10**9,
                         checkpoint_seconds=3600)
            ledger = await open_ledger(settings=s)
            for i in range(7):
                await ledger.append("decision", {{"action": "escalate", "i": i}})
            ledger.store.close()
        asyncio.run(main())
    """)
    subprocess.run([sys.executable, "-c", script], check=True, timeout=120)
    found = index.page(Filter(action="escalate"), limit=3)
    assert found.total == 8  # one of ours, seven of theirs
    assert [r["body"]["i"] for r in found.records] == [6, 5, 4]
    assert index.size() == 12
    assert len(index.escalations()) == 8
    index.close()


def test_a_line_being_written_is_not_indexed_until_complete(tmp_path: Path) -> None:
    """Half a line at the end (another writer mid-write) is left for the next read."""
    store = ledger_of(tmp_path, 3)
    index = SqliteIndex(store)
    segment = sorted(tmp_path.glob("ledger-*.jsonl"))[-1]
    whole = store.append(seal_records([("rec_late", "2026-11-24T00:00:00.000000Z", "access",
                                        canonical({"what": "x"}))]))[0]["line"] + b"\n"
    data = segment.read_bytes()
    segment.write_bytes(data[:-len(whole)] + whole[:10])
    assert index.get("rec_late") is None
    segment.write_bytes(data)
    assert index.get("rec_late") == json.loads(whole)
    index.close()
