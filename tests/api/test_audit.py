"""Audit routes: list, read (recorded as access), verify, prove, export, review, queue."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

from supervisor.ledger import verify_proof
from supervisor.ledger.canonical import canonical
from tests.api.conftest import ADMIN_KEY, AUDITOR_KEY, Serve, Served

SSN = "536-22-8193"
ESCALATES = "You should put all your savings into Tesla stock and leveraged ETFs."


def decide(served: Served, output: str, constitution: str) -> str:
    response = served.client().post("/v1/supervise", json={
        "prompt": "Question?", "output": output, "constitution": constitution,
        "context": {"app_id": "advisor", "user_ref": "u-1"}})
    assert response.status_code == 200, response.text
    record_id: str = response.headers["x-supervisor-record-id"]
    assert response.json()["record_id"] == record_id
    return record_id


def test_records_filter_page_and_count_actions(serve: Serve) -> None:
    """Newest first, filtered by action, app and stage, paged with a seq cursor (each
    supervision also records its prompt's input-stage decision: base has input principles)."""
    with serve() as served:
        first = decide(served, "Index funds spread risk across many companies.", "finance")
        second = decide(served, ESCALATES, "finance")
        auditor = served.client(AUDITOR_KEY)
        output = {"kind": "decision", "stage": "output"}
        listed = auditor.get("/v1/audit/records", params=output).json()
        assert [r["id"] for r in listed["records"]] == [second, first]
        assert listed["actions"] == {"allow": 1, "escalate": 1}
        inputs = auditor.get("/v1/audit/records", params={"stage": "input"}).json()
        assert len(inputs["records"]) == 2 and inputs["actions"] == {"allow": 2}
        only = auditor.get("/v1/audit/records", params={"action": "escalate",
                                                        "app": "advisor"}).json()
        assert [r["id"] for r in only["records"]] == [second]
        paged = auditor.get("/v1/audit/records", params={**output, "limit": 1}).json()
        assert paged["next_before"] is not None
        rest = auditor.get("/v1/audit/records", params={
            **output, "limit": 1, "before": paged["next_before"]}).json()
        assert [r["id"] for r in rest["records"]] == [first]


def test_reading_a_record_is_itself_recorded_and_stays_redacted(serve: Serve) -> None:
    """A record read appends an access record naming the reader; no raw SSN is served."""
    with serve() as served:
        record_id = decide(served, f"Patient John Smith, SSN {SSN}.", "healthcare")
        auditor = served.client(AUDITOR_KEY)
        response = auditor.get(f"/v1/audit/records/{record_id}")
        assert response.status_code == 200 and SSN not in response.text
        access = auditor.get("/v1/audit/records", params={"kind": "access"}).json()
    body = access["records"][0]["body"]
    assert body == {"actor": "reviewer-1", "what": "record", "record": record_id, "via": "api"}


def test_proof_verifies_offline_against_the_signed_checkpoint(serve: Serve) -> None:
    """A proof is served (a checkpoint is signed when none covers the record) and verifies."""
    with serve() as served:
        record_id = decide(served, "Index funds spread risk.", "finance")
        auditor = served.client(AUDITOR_KEY)
        proof = auditor.get(f"/v1/audit/records/{record_id}/proof").json()
        pem = auditor.get("/v1/audit/public-key").content
        report = auditor.get("/v1/audit/verify").json()
    assert proof["verified"] and verify_proof(proof["proof"], pem)
    assert report["ok"] and report["checkpoints"] >= 1
    tampered = {**proof["proof"], "record_hash": "00" * 32}
    assert not verify_proof(tampered, pem)


def test_export_jsonl_lines_are_the_stored_canonical_records(serve: Serve) -> None:
    """JSONL export is canonical (hashes still check) and CSV has one row per record."""
    with serve() as served:
        decide(served, "Index funds spread risk.", "finance")
        auditor = served.client(AUDITOR_KEY)
        answers = {"kind": "decision", "stage": "output"}
        jsonl = auditor.get("/v1/audit/export", params={"format": "jsonl", **answers})
        table = auditor.get("/v1/audit/export", params={"format": "csv", **answers})
        exports = auditor.get("/v1/audit/records", params={"kind": "access"}).json()
    lines = jsonl.text.splitlines()
    assert len(lines) == 1 and canonical(json.loads(lines[0])).decode() == lines[0]
    rows = list(csv.DictReader(io.StringIO(table.text)))
    assert [r["action"] for r in rows] == ["allow"]
    assert {r["body"]["format"] for r in exports["records"]} == {"jsonl", "csv"}


def test_review_is_a_new_linked_record_and_closes_the_queue(serve: Serve) -> None:
    """An override becomes a review record linked by id and hash; the decision is untouched."""
    with serve() as served:
        record_id = decide(served, ESCALATES, "finance")
        auditor = served.client(AUDITOR_KEY)
        assert [r["id"] for r in auditor.get("/v1/audit/queue").json()["records"]] == [
            record_id]
        before = auditor.get(f"/v1/audit/records/{record_id}").json()["record"]
        review = auditor.post(f"/v1/audit/records/{record_id}/reviews", json={
            "verdict": "override", "text": "Diversify; talk to a licensed adviser.",
            "note": "unsuitable concentration"})
        assert review.status_code == 200, review.text
        after = auditor.get(f"/v1/audit/records/{record_id}").json()
        queue = auditor.get("/v1/audit/queue").json()
    body = review.json()["review"]
    assert body["decision"] == record_id and body["decision_hash"] == before["hash"]
    assert body["reviewer"] == "reviewer-1" and body["verdict"] == "override"
    assert after["record"] == before
    assert [r["id"] for r in after["reviews"]] == [review.json()["record_id"]]
    assert queue["count"] == 0 and queue["next_before"] is None


def test_queue_pages_on_with_a_cursor_and_skips_closed_escalations(serve: Serve) -> None:
    """Pages of one walk the open escalations newest first; a closed one is not shown,
    the last page's cursor is null, and each page's read names its cursor."""
    with serve() as served:
        oldest, closed, newest = (decide(served, ESCALATES, "finance") for _ in range(3))
        auditor = served.client(AUDITOR_KEY)
        assert auditor.post(f"/v1/audit/records/{closed}/reviews",
                            json={"verdict": "agree"}).status_code == 200
        seen, pages, before = [], [], None
        while True:
            params = {"limit": 1} if before is None else {"limit": 1, "before": before}
            page = auditor.get("/v1/audit/queue", params=params).json()
            pages.append(page)
            seen += [r["id"] for r in page["records"]]
            before = page["next_before"]
            if before is None:
                break
        reads = auditor.get("/v1/audit/records", params={"kind": "access"}).json()
        bad = auditor.get("/v1/audit/queue", params={"limit": 0})
    assert seen == [newest, oldest]
    assert all(p["count"] == len(p["records"]) <= 1 for p in pages)
    assert len(pages) >= 3  # the closed escalation still took a page of the index
    queue_reads = [r["body"] for r in reads["records"] if r["body"]["what"] == "queue"]
    assert {b.get("before") for b in queue_reads} - {None}
    assert bad.status_code == 400 and "limit" in bad.text


def test_bad_reviews_are_refused_with_the_reason(serve: Serve) -> None:
    """An override without text, or a review of a non-decision, is a 400 that says why."""
    with serve() as served:
        record_id = decide(served, ESCALATES, "finance")
        auditor = served.client(ADMIN_KEY)
        empty = auditor.post(f"/v1/audit/records/{record_id}/reviews",
                             json={"verdict": "override"})
        missing = auditor.post("/v1/audit/records/rec_nope/reviews", json={"verdict": "agree"})
    assert empty.status_code == 400 and "text to release" in empty.json()["error"]["message"]
    assert missing.status_code == 404


def _access(served: Served) -> list[dict[str, Any]]:
    return [r["body"] for r in served.service.ledger.records_in_order()
            if r["kind"] == "access"]


def test_every_read_of_records_leaves_one_access_record(serve: Serve) -> None:
    """A list, the queue and an export each append exactly one access record: who, what
    was read (filter, count) and via the API; reading access records is no different."""
    with serve() as served:
        decide(served, ESCALATES, "finance")
        decide(served, "Index funds spread risk.", "finance")
        auditor = served.client(AUDITOR_KEY)
        reads = [
            ("/v1/audit/records", {"kind": "decision", "action": "escalate"}),
            ("/v1/audit/queue", {}),
            ("/v1/audit/export", {"kind": "decision", "stage": "output", "format": "csv"}),
            ("/v1/audit/records", {"kind": "access"}),
        ]
        seen = []
        for path, params in reads:
            before = len(_access(served))
            assert auditor.get(path, params=params).status_code == 200
            added = _access(served)[before:]
            assert len(added) == 1, (path, added)
            seen.append(added[0])
    listed, queue, export, listing = seen
    assert listed == {"actor": "reviewer-1", "what": "list", "via": "api", "count": 1,
                      "total": 1, "filter": {"kind": "decision", "action": "escalate"}}
    assert queue == {"actor": "reviewer-1", "what": "queue", "via": "api", "count": 1,
                     "filter": {}}
    assert export["what"] == "export" and export["count"] == 2
    assert export["filter"] == {"kind": "decision", "stage": "output"}
    assert export["format"] == "csv"
    # not its own record; the two supervisions' prompts were checked and recorded too
    assert listing["what"] == "list" and listing["count"] == 3


def test_a_malformed_period_is_a_400_naming_the_parameter(serve: Serve) -> None:
    """`since=notadate` is refused, not answered with nothing; the message gives the form."""
    with serve() as served:
        auditor = served.client(AUDITOR_KEY)
        for path in ("/v1/audit/records", "/v1/audit/queue", "/v1/audit/export"):
            for name in ("since", "until"):
                answer = auditor.get(path, params={name: "notadate"})
                assert answer.status_code == 400, (path, name, answer.text)
                error = answer.json()["error"]
                assert error["param"] == name
                assert "notadate" in error["message"] and "2026-11-01" in error["message"]
        good = auditor.get("/v1/audit/export", params={"since": "2026-11-01T09:30:00+01:00"})
        assert good.status_code == 200
        assert not [b for b in _access(served) if "notadate" in str(b)]  # nothing was read


def test_a_cursor_past_every_seq_pages_from_the_newest_not_a_500(serve: Serve) -> None:
    """`before` beyond what the database's integers hold pages from the newest record."""
    with serve() as served:
        served.client().post("/v1/supervise", json={"output": "Drink water."})
        auditor = served.client(AUDITOR_KEY)
        huge = auditor.get("/v1/audit/records", params={"before": 10**30, "kind": "decision"})
        newest = auditor.get("/v1/audit/records", params={"kind": "decision"})
    assert huge.status_code == 200, huge.text
    assert huge.json()["records"] == newest.json()["records"] != []
