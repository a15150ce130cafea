"""`GET /v1/audit/verify` on a live server: its own fresh records are signed first."""

from __future__ import annotations

from tests.api.conftest import AUDITOR_KEY, Serve


def test_verify_right_after_traffic_signs_and_names_the_key(serve: Serve) -> None:
    """Records appended a moment ago are signed before verifying, so a healthy live
    ledger verifies with no unsigned tail, and the report names the trusted key."""
    with serve() as served:
        served.client().post("/v1/supervise", json={"output": "Drink water."})
        report = served.client(AUDITOR_KEY).get("/v1/audit/verify").json()
        assert report["ok"], report
        assert report["unsigned_tail"] == 0 and report["checkpoints"] >= 1
        assert report["key_id"] == served.service.ledger.signer.key_id
        refused = served.client(AUDITOR_KEY).get("/v1/audit/verify",
                                                 params={"allow_unsigned_tail": -1})
        assert refused.status_code == 400
        assert refused.json()["error"]["param"] == "allow_unsigned_tail"
