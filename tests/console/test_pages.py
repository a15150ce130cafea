"""The decisions list and the record page: what a reviewer sees, and that reads are recorded."""

from __future__ import annotations

import re

import pytest

from supervisor.constitution import load_constitution
from tests.console.conftest import SSN, Console, token

RECORD_ID = re.compile(r"rec_[0-9a-f]{32}")


def test_no_page_shows_an_ssn_the_ledger_stored_redacted(console: Console) -> None:
    stored = console.service.ledger.get(console.phi)
    assert stored is not None and "<US_SSN>" in stored["body"]["texts"]["original"]
    with console.login() as client:
        for path in (f"/console/records/{console.phi}", "/console/decisions",
                     f"/console/decisions?search={console.phi}", "/console/queue",
                     "/console/dashboard"):
            html = client.get(path).text
            assert SSN not in html and SSN.replace("-", "") not in html, path
        record = client.get(f"/console/records/{console.phi}").text
        assert "&lt;US_SSN&gt;" in record and "&lt;PERSON&gt;" in record
    phi = console.service.constitutions["healthcare"].principle("phi-disclosure")
    revisions = record.split("<h2>Revisions</h2>")[1].split("</ol>")[0]
    assert phi.citations[0] in revisions  # why it was revised: the principle's own words


def test_the_record_page_shows_the_verdict_the_diff_and_provenance(console: Console) -> None:
    with console.login() as client:
        html = client.get(f"/console/records/{console.escalated}").text
    assert "personalised-recommendation" in html
    assert 'class="verdict violated"' in html
    assert "You should put all your savings into" in html  # evidence quotes the original
    assert "Sent instead (answer withheld)" in html
    assert re.search(r"<ins>[^<]*review[^<]*</ins>", html), "the holding message is not marked"
    stored = console.service.ledger.get(console.escalated)
    assert stored is not None
    stamp = stored["body"]["provenance"]
    assert stamp["constitution"]["sha256"] in html
    finance = console.service.constitutions["finance"]
    principle = finance.principle("personalised-recommendation")
    assert " ".join(principle.statement.split())[:40] in " ".join(html.split())
    assert principle.citations[0] in html


def test_reading_a_record_page_is_recorded_as_access(console: Console) -> None:
    with console.login() as client:
        client.get(f"/console/records/{console.allowed}")
    last = list(console.service.ledger.records_in_order())[-1]
    assert last["kind"] == "access"
    assert last["body"] == {"actor": "reviewer-1", "what": "record",
                            "record": console.allowed, "via": "console"}


def test_the_list_filters_by_action_and_counts_per_action(console: Console) -> None:
    with console.login() as client:
        everything = client.get("/console/decisions").text
        escalated = client.get("/console/decisions?action=escalate").text
    assert console.escalated in escalated and console.phi not in escalated
    assert console.phi in everything and console.allowed in everything
    assert re.search(r'data-action="escalate">[1-9]', everything)
    assert 'data-action="allow">0<' in escalated


def test_the_list_filters_by_principle_version_app_and_period(console: Console) -> None:
    with console.login() as client:
        by_principle = client.get("/console/decisions?principle=phi-disclosure").text
        finance = load_constitution("finance").version
        by_version = client.get(f"/console/decisions?constitution=finance@{finance}").text
        wrong_version = client.get("/console/decisions?constitution=finance@0.0.1").text
        future = client.get("/console/decisions?since=2999-01-01").text
        by_app = client.get("/console/decisions?app=clinic-app").text
    assert console.phi in by_principle and console.escalated not in by_principle
    assert console.escalated in by_version and console.phi not in by_version
    assert console.escalated not in wrong_version
    assert "No decisions match." in future
    assert console.phi in by_app


def test_the_list_finds_a_record_by_id_and_pages_on(console: Console,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("api.console.pages.PAGE_SIZE", 2)  # the shared ledger has more
    with console.login() as client:
        found = client.get(f"/console/decisions?search={console.allowed[-10:]}").text
        assert console.allowed in found and console.phi not in found
        first = client.get("/console/decisions").text
        older = re.search(r'href="(/console/decisions\?[^"]*before=\d+)"', first)
        assert older, "no link to the older page"
        second = client.get(older.group(1).replace("&amp;", "&")).text
    on_first, on_second = set(RECORD_ID.findall(first)), set(RECORD_ID.findall(second))
    assert len(on_first) == 2 and on_second and not on_first & on_second


def test_the_proof_check_signs_a_checkpoint_when_none_covers_the_record(
        console: Console) -> None:
    fresh = console.decide("Drink water and rest.", "healthcare")  # newer than any checkpoint
    signed = console.kinds().count("checkpoint")
    with console.login() as client:
        page = client.get(f"/console/records/{fresh}")
        answer = client.post(f"/console/records/{fresh}/proof",
                             data={"csrf": token(page.text)})
    assert answer.status_code == 200
    assert "Inclusion proof verified" in answer.text
    assert console.kinds().count("checkpoint") == signed + 1


def test_an_unknown_record_is_a_404_page(console: Console) -> None:
    with console.login() as client:
        answer = client.get("/console/records/rec_missing")
    assert answer.status_code == 404 and "No such record" in answer.text


def _access(console: Console) -> list[dict[str, object]]:
    return [r["body"] for r in console.service.ledger.records_in_order()
            if r["kind"] == "access"]


def test_every_page_that_shows_records_leaves_one_access_record(console: Console) -> None:
    """The list, the queue and the dashboard each append one access record via the console."""
    with console.login() as client:
        seen = {}
        for path, what in (("/console/decisions?action=escalate", "list"),
                           ("/console/queue", "queue"), ("/console/dashboard", "dashboard")):
            before = len(_access(console))
            assert client.get(path).status_code == 200
            added = _access(console)[before:]
            assert len(added) == 1 and added[0]["what"] == what, (path, added)
            seen[what] = added[0]
    assert seen["list"]["filter"] == {"kind": "decision", "action": "escalate"}
    assert all(b["actor"] == "reviewer-1" and b["via"] == "console" and "count" in b
               for b in seen.values())


def test_a_malformed_period_in_the_filter_form_is_a_400_page(console: Console) -> None:
    """`since=notadate` names the field and the accepted form instead of listing nothing."""
    with console.login() as client:
        before = len(_access(console))
        for path in ("/console/decisions?since=notadate", "/console/dashboard?until=31/12"):
            answer = client.get(path)
            assert answer.status_code == 400, path
            assert "is not a date or time" in answer.text and "2026-11-01" in answer.text
        page = client.get("/console/export")
        export = client.post("/console/export", data={"since": "notadate",
                                                      "csrf": token(page.text)})
        assert export.status_code == 400 and "since=" in export.text
        assert len(_access(console)) == before  # nothing was read
