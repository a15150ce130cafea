"""Every console page renders records whose bodies lack the fields a decision made by the
pipeline has: records a script appended with `await ledger.append(kind, body)`."""

from __future__ import annotations

import io
import re
import zipfile
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx2
import pytest

from api import Service, create_app
from api.keys import Keys
from supervisor.ledger import open_ledger
from supervisor.settings import Settings
from tests.api.conftest import ADMIN_KEY, KEYS

SPARSE: list[tuple[str, dict[str, Any]]] = [  # (kind, body) as a script might append them
    ("decision", {}),
    ("decision", {"action": "escalate"}),
    ("decision", {"action": "revise", "verdicts": [{}], "revisions": [{}], "texts": {},
                  "provenance": {"constitution": {"id": "finance"}}, "context": {}}),
    ("decision", {"action": "block", "verdicts": [{"principle": "advice"}],
                  "provenance": {}, "timings_ms": {}, "usage": {}}),
    ("review", {}),
    ("access", {}),
    ("checkpoint", {"note": "signed by nobody"}),
    ("constitution", {}),
    ("proposal", {}),
]


@pytest.fixture
async def signed_in(tmp_path: Path) -> AsyncIterator[tuple[httpx2.AsyncClient, list[str]]]:
    """An admin signed in to the console of a started service (its constitutions
    loaded) over a ledger of sparse records, with the ids of those records."""
    settings = Settings(ledger=str(tmp_path / "ledger"), checkpoint_seconds=3600)
    ledger = await open_ledger(settings=settings)
    ids = [(await ledger.append(kind, body)).id for kind, body in SPARSE]
    ids.append((await ledger.append("review", {"decision": ids[1]})).id)  # no verdict
    service = Service(settings, keys=Keys(KEYS), ledger=ledger, warm_primary=False)
    await service.activation.start()
    transport = httpx2.ASGITransport(app=create_app(service))
    try:
        async with httpx2.AsyncClient(transport=transport, base_url="http://console",
                                      follow_redirects=True) as client:
            form = (await client.get("/console/login")).text
            signed = await client.post("/console/login", data={
                "key": ADMIN_KEY, "csrf": _csrf(form), "next": "/console/decisions"})
            assert signed.status_code == 200, signed.text
            yield client, ids
    finally:
        await ledger.close()


def _csrf(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found, "the page has no CSRF token"
    return found.group(1)


async def test_every_page_renders_sparse_records(
        signed_in: tuple[httpx2.AsyncClient, list[str]]) -> None:
    """The list (all of them on one page), each record's page, the queue, the dashboard
    and the proposals page answer 200 and show the records they list; a proof is
    checked though the latest checkpoint record is one a script wrote."""
    client, ids = signed_in
    listed = await client.get("/console/decisions")
    assert listed.status_code == 200, listed.text
    assert all(i in listed.text for i in ids[:4])
    for record_id in ids:
        shown = await client.get(f"/console/records/{record_id}")
        assert shown.status_code == 200, (record_id, shown.text)
        assert record_id in shown.text
    escalated = await client.get(f"/console/records/{ids[1]}")
    assert ids[-1] in escalated.text  # its review, without verdict or reviewer
    queue = await client.get("/console/queue")
    assert queue.status_code == 200, queue.text
    assert ids[1] in queue.text
    form = await client.get(f"/console/records/{ids[0]}")
    proved = await client.post(f"/console/records/{ids[0]}/proof",
                               data={"csrf": _csrf(form.text)})
    assert proved.status_code == 200 and "Inclusion proof verified" in proved.text
    for path in ("/console/dashboard", "/console/proposals", "/console/export"):
        page = await client.get(path)
        assert page.status_code == 200, (path, page.text)
    assert "4 decisions" in (await client.get("/console/dashboard")).text.replace(
        "<strong>", "").replace("</strong>", "")


async def test_the_evidence_export_of_sparse_records_verifies(
        signed_in: tuple[httpx2.AsyncClient, list[str]]) -> None:
    """The evidence zip holds the sparse records, and its summary reports a chain that
    verifies."""
    client, ids = signed_in
    form = (await client.get("/console/export")).text
    answer = await client.post("/console/export", data={"csrf": _csrf(form)})
    assert answer.status_code == 200, answer.text
    archive = zipfile.ZipFile(io.BytesIO(answer.content))
    records = archive.read("records.jsonl").decode()
    assert all(i in records for i in ids)
    assert "summary.pdf" in archive.namelist()
