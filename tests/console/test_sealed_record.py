"""The record page of an encrypted decision: opened for an auditor, "erased on DATE" after."""

from __future__ import annotations

import re
from pathlib import Path

import httpx2

from api import Service, create_app
from api.keys import Keys
from supervisor.ledger import open_ledger
from supervisor.ledger.records import decision_body
from supervisor.ledger.sealed import erase, keys_for
from supervisor.settings import Settings
from tests.api.conftest import APP_KEY, AUDITOR_KEY, KEYS
from tests.ledger.test_sealed import ANSWER, EMAIL, decision


async def _page(service: Service, record_id: str) -> str:
    """The record page as an auditor signed in through the login form sees it."""
    transport = httpx2.ASGITransport(app=create_app(service))
    async with httpx2.AsyncClient(transport=transport, base_url="http://console",
                                  follow_redirects=True) as client:
        form = (await client.get("/console/login")).text
        csrf = re.search(r'name="csrf" value="([^"]+)"', form)
        assert csrf
        signed = await client.post("/console/login", data={
            "key": AUDITOR_KEY, "csrf": csrf.group(1), "next": "/console/decisions"})
        assert signed.status_code == 200, signed.text
        answer = await client.get(f"/console/records/{record_id}")
        assert answer.status_code == 200, answer.text
        return answer.text


async def _read(service: Service, record_id: str, key: str) -> httpx2.Response:
    """`GET /v1/audit/records/ID` with `key`."""
    transport = httpx2.ASGITransport(app=create_app(service))
    async with httpx2.AsyncClient(transport=transport, base_url="http://api",
                                  headers={"authorization": f"Bearer {key}"}) as client:
        return await client.get(f"/v1/audit/records/{record_id}")


async def test_the_record_page_opens_then_says_erased_on(tmp_path: Path) -> None:
    """An auditor sees the sealed answer (page and audit API) while the key lives, and
    "erased on DATE" (and not the answer) once the subject is erased; an app key gets
    403 from the audit route."""
    settings = Settings(ledger=str(tmp_path / "ledger"), checkpoint_seconds=3600)
    ledger = await open_ledger(settings=settings)
    keys = keys_for(settings)
    receipt = await ledger.append("decision", decision_body(
        decision(), store_text="encrypted", keys=keys))
    service = Service(settings, keys=Keys(KEYS), ledger=ledger, warm_primary=False)
    try:
        assert "Patient John Whitaker" in await _page(service, receipt.id)
        read = (await _read(service, receipt.id, AUDITOR_KEY)).json()
        assert read["opened"]["body"]["texts"]["original"] == ANSWER
        assert ANSWER not in str(read["record"])  # the record itself as stored
        refused = await _read(service, receipt.id, APP_KEY)
        assert refused.status_code == 403 and "Whitaker" not in refused.text
        done = await erase(ledger, keys, EMAIL, reason="GDPR Art. 17", by="dpo")
        page = await _page(service, receipt.id)
        assert f"erased on {done.erased_at[:10]}" in page
        assert "Patient John Whitaker" not in page and ANSWER not in page
        read = (await _read(service, receipt.id, AUDITOR_KEY)).json()
        assert read["opened"]["body"] is None
        assert read["opened"]["note"].startswith(f"erased on {done.erased_at[:10]}")
    finally:
        await ledger.close()
