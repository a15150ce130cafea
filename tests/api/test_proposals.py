"""Four-eyes activation: a constitution version is proposed, then approved by another person.

The services run on real loopback ports over a temporary ledger, serving a small
pattern-only constitution (`clinic`, from a file the tests edit) as their default.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx2
import pytest
from structlog.testing import capture_logs

from api import Service
from api.keys import Keys
from supervisor.constitution import load_constitution
from supervisor.ledger import open_ledger, verify_ledger
from supervisor.settings import Settings
from tests.api.conftest import ADMIN_KEY, AUDITOR_KEY, KEYS, Served, running

SECOND_ADMIN_KEY = "second-admin-key-0123456789"
CLINIC = """\
id: clinic
version: {version}
title: Clinic assistant
principles:
  - id: no-dosage
    statement: The answer does not give a medication dosage.
    action: block
    citations: ["internal clinical policy CP-1"]
    checks:
      - pattern: {{phrases: [{phrases}]}}
"""


def clinic(version: str = "1.0.0", phrases: str = '"take 500 mg"') -> str:
    return CLINIC.format(version=version, phrases=phrases)


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    (tmp_path / "clinic.yaml").write_text(clinic(), encoding="utf-8")
    return tmp_path


@contextmanager
def serving(folder: Path) -> Iterator[Served]:
    """A service over `folder/ledger` serving `folder/clinic.yaml`, with two admins."""
    settings = Settings(ledger=str(folder / "ledger"), primary=("fake:primary",),
                        constitution=str(folder / "clinic.yaml"), checkpoint_seconds=3600)
    keys = Keys([*KEYS, ("admin", "ops-2", SECOND_ADMIN_KEY)])
    with running(Service(settings, keys=keys, warm_primary=False)) as served:
        yield served


def propose(client: httpx2.Client, text: str, **extra: Any) -> httpx2.Response:
    return client.post("/v1/constitutions/proposals",
                       json={"constitution": "clinic", "yaml": text, **extra})


def active(client: httpx2.Client) -> dict[str, Any]:
    found: dict[str, Any] = client.get("/v1/constitutions/clinic").json()
    return found


def kinds(folder: Path, *wanted: str) -> list[dict[str, Any]]:
    lines = b"".join(p.read_bytes() for p in sorted((folder / "ledger").glob("ledger-*.jsonl")))
    return [r for r in map(json.loads, lines.splitlines()) if r["kind"] in wanted]


def test_one_admin_alone_cannot_activate_a_version(folder: Path) -> None:
    """A proposal changes nothing, and its proposer approving it is 403 with the reason."""
    with serving(folder) as served:
        admin = served.client(ADMIN_KEY)
        before = active(admin)
        made = propose(admin, clinic("1.1.0", '"take 500 mg", "take 1000 mg"'))
        assert made.status_code == 201, made.text
        assert made.json()["state"] == "pending"
        refused = admin.post(f"/v1/constitutions/proposals/{made.json()['id']}/approve")
        after = active(admin)
    assert refused.status_code == 403
    assert "cannot approve it too" in refused.json()["error"]["message"]
    assert refused.json()["error"]["code"] == "same_person"
    assert after["sha256"] == before["sha256"] and after["version"] == "1.0.0"


def test_two_people_activate_and_both_steps_are_in_a_verified_ledger(folder: Path) -> None:
    """Proposed by an admin, approved by an auditor: the version serves, the proposal,
    approval and activation (naming both) are records, and `audit verify` passes."""
    with serving(folder) as served:
        made = propose(served.client(ADMIN_KEY), clinic("1.1.0", '"take 1000 mg"')).json()
        approved = served.client(AUDITOR_KEY).post(
            f"/v1/constitutions/proposals/{made['id']}/approve", json={"note": "replay ok"})
        now = active(served.client(AUDITOR_KEY))
        blocked = served.client().post("/v1/supervise", json={
            "output": "You should take 1000 mg now.", "constitution": "clinic"})
    assert approved.status_code == 200, approved.text
    assert approved.json()["state"] == "approved"
    assert approved.json()["active"]["version"] == "1.1.0" == now["version"]
    assert made["changes"]["changed"] == {"no-dosage": ["checks"]}
    assert any(line.startswith("+ ") and '"take 1000 mg"' in line
               for line in made["diff"].splitlines())
    assert blocked.json()["action"] == "block"
    proposal, approval = kinds(folder, "proposal")[0], kinds(folder, "approval")[0]
    activation = kinds(folder, "constitution")[-1]["body"]
    assert proposal["body"]["proposer"] == "ops" and proposal["body"]["base"]["version"] == "1.0.0"
    assert approval["body"]["proposal"] == proposal["id"]
    assert approval["body"]["approver"] == "reviewer-1"
    assert (activation["proposal"], activation["approval"]) == (proposal["id"], approval["id"])
    assert (activation["proposer"], activation["approver"]) == ("ops", "reviewer-1")
    report, _ = verify_ledger(str(folder / "ledger"), settings=Settings(
        ledger=str(folder / "ledger")))
    assert report.ok, report.problem
    assert report.unsigned_tail == 0


def test_a_second_admin_may_approve(folder: Path) -> None:
    """Two distinct admins are four eyes too."""
    with serving(folder) as served:
        made = propose(served.client(ADMIN_KEY), clinic("1.1.0")).json()
        approved = served.client(SECOND_ADMIN_KEY).post(
            f"/v1/constitutions/proposals/{made['id']}/approve")
    assert approved.status_code == 200, approved.text
    assert approved.json()["decided_by"] == "ops-2"


def test_approving_a_proposal_whose_base_is_no_longer_active_is_409(folder: Path) -> None:
    """Two proposals against 1.0.0: once one is active, the other is stale."""
    with serving(folder) as served:
        admin, auditor = served.client(ADMIN_KEY), served.client(AUDITOR_KEY)
        first = propose(admin, clinic("1.1.0")).json()
        second = propose(admin, clinic("1.2.0", '"take 2 pills"')).json()
        assert auditor.post(f"/v1/constitutions/proposals/{first['id']}/approve"
                            ).status_code == 200
        stale = auditor.post(f"/v1/constitutions/proposals/{second['id']}/approve")
        listed = auditor.get("/v1/constitutions/proposals").json()
        again = auditor.post(f"/v1/constitutions/proposals/{first['id']}/approve")
    assert stale.status_code == 409
    assert stale.json()["error"]["code"] == "stale_proposal"
    assert "1.1.0 is active now" in stale.json()["error"]["message"]
    assert [(p["id"], p["state"]) for p in listed["data"]] == [(second["id"], "stale")]
    assert again.status_code == 409 and again.json()["error"]["code"] == "proposal_closed"
    assert len(kinds(folder, "approval")) == 1


def test_a_rejection_needs_a_reason_and_closes_the_proposal(folder: Path) -> None:
    """Rejected with a reason: recorded, not activated, and no longer approvable."""
    with serving(folder) as served:
        made = propose(served.client(ADMIN_KEY), clinic("1.1.0")).json()
        auditor = served.client(AUDITOR_KEY)
        url = f"/v1/constitutions/proposals/{made['id']}"
        empty = auditor.post(url + "/reject", json={"reason": " "})
        rejected = auditor.post(url + "/reject", json={"reason": "replay blocks 9% more"})
        late = served.client(SECOND_ADMIN_KEY).post(url + "/approve")
        now = active(auditor)
    assert empty.status_code == 400 and empty.json()["error"]["param"] == "reason"
    assert rejected.json()["state"] == "rejected"
    assert late.status_code == 409
    assert now["version"] == "1.0.0"
    assert kinds(folder, "rejection")[0]["body"]["reason"] == "replay blocks 9% more"


def test_reload_proposes_a_changed_file_instead_of_activating_it(folder: Path) -> None:
    """After the file changes, reload answers with a proposal id (once, however often it
    is called) and the old version still serves."""
    with serving(folder) as served:
        admin = served.client(ADMIN_KEY)
        (folder / "clinic.yaml").write_text(clinic("1.1.0", '"take 9 mg"'), encoding="utf-8")
        first = admin.post("/v1/constitutions/reload").json()
        second = admin.post("/v1/constitutions/reload").json()
        now = active(admin)
    assert len(first["proposals"]) == 1 and first["proposals"] == second["proposals"]
    assert first["proposed"][0]["version"] == "1.1.0" and first["activated"] == []
    assert now["version"] == "1.0.0"
    assert kinds(folder, "proposal")[0]["body"]["source"] == "reload"


def test_break_glass_activates_at_once_and_says_so_loudly(folder: Path) -> None:
    """`?break_glass=true&reason=...` activates alone: the record says break_glass and
    why, and a warning is logged; without a reason it is refused."""
    with serving(folder) as served:
        admin = served.client(ADMIN_KEY)
        (folder / "clinic.yaml").write_text(clinic("1.1.0", '"take 9 mg"'), encoding="utf-8")
        no_reason = admin.post("/v1/constitutions/reload", params={"break_glass": "true"})
        with capture_logs() as logs:
            done = admin.post("/v1/constitutions/reload", params={
                "break_glass": "true", "reason": "regulator order 2026-14, effective now"})
        now = active(admin)
    assert no_reason.status_code == 400 and no_reason.json()["error"]["param"] == "reason"
    assert done.status_code == 200 and done.json()["proposals"] == []
    assert [c["version"] for c in done.json()["activated"]] == ["1.1.0"] == [now["version"]]
    record = kinds(folder, "constitution")[-1]["body"]
    assert record["break_glass"] is True and record["activated_by"] == "ops"
    assert record["reason"] == "regulator order 2026-14, effective now"
    assert record["previous"]["version"] == "1.0.0"
    loud = [e for e in logs if e["event"] == "constitution_break_glass"]
    assert loud and loud[0]["log_level"] == "warning" and loud[0]["activated_by"] == "ops"


def test_a_proposal_made_on_one_worker_is_approved_on_another(folder: Path) -> None:
    """Two services on one ledger: proposed on the first, approved on the second, which
    serves it at once; the first picks the activation up from the ledger by itself."""
    with serving(folder) as one, serving(folder) as two:
        made = propose(one.client(ADMIN_KEY), clinic("1.1.0")).json()
        listed = two.client(AUDITOR_KEY).get("/v1/constitutions/proposals").json()
        approved = two.client(AUDITOR_KEY).post(
            f"/v1/constitutions/proposals/{made['id']}/approve")
        on_two = active(two.client(AUDITOR_KEY))
        deadline = time.monotonic() + 60  # a guard, not a measurement: FOLLOW_S is 2 s
        while (on_one := active(one.client(AUDITOR_KEY)))["version"] != "1.1.0":
            assert time.monotonic() < deadline, "the first worker never saw the activation"
            time.sleep(0.1)
    assert [p["id"] for p in listed["data"]] == [made["id"]]
    assert approved.status_code == 200, approved.text
    assert on_two["sha256"] == on_one["sha256"] == made["new"]["sha256"]


def test_a_restart_serves_the_approved_version_not_an_edited_file(folder: Path) -> None:
    """What the ledger activated survives restarts; a file edited on disk does not become
    active by restarting (its start record says the file differs)."""
    with serving(folder) as served:
        made = propose(served.client(ADMIN_KEY), clinic("1.1.0")).json()
        served.client(AUDITOR_KEY).post(f"/v1/constitutions/proposals/{made['id']}/approve")
    (folder / "clinic.yaml").write_text(clinic("2.0.0", '"anything"'), encoding="utf-8")
    with serving(folder) as served:
        now = active(served.client(AUDITOR_KEY))
    assert now["sha256"] == made["new"]["sha256"]
    start = kinds(folder, "constitution")[-1]["body"]
    assert start["id"] == "clinic" and start["activated_by"] == "startup"
    assert start["version"] == "1.1.0" and start["file_differs"]["version"] == "2.0.0"


def test_an_attached_replay_report_is_kept_as_its_hash_and_figures(folder: Path) -> None:
    """The report is not stored: its sha256 and figures are, and whether it replayed
    the proposed version."""
    (folder / "next.yaml").write_text(clinic("1.1.0"), encoding="utf-8")
    target = load_constitution(folder / "next.yaml")
    report = json.dumps({
        "record": "rec_replay", "report_sha256": "d" * 64,
        "target": {"id": "clinic", "version": "1.1.0", "sha256": target.sha256},
        "counts": {"replayed": 10000, "flipped": 12},
        "actions": {"allow": {"before": 70, "after": 58}, "block": {"before": 30, "after": 42}},
        "flips": [{"record": "r1"}, {"record": "r2"}]})
    with serving(folder) as served:
        made = propose(served.client(ADMIN_KEY), clinic("1.1.0"), attachment=report)
        other = propose(served.client(ADMIN_KEY), clinic("1.2.0"), attachment=report)
    attached = made.json()["attachment"]
    assert attached["format"] == "json" and len(attached["sha256"]) == 64
    assert attached["matches_proposal"] is True
    assert other.json()["attachment"]["matches_proposal"] is False
    assert attached["summary"] == {
        "record": "rec_replay", "report_sha256": "d" * 64,
        "target": {"id": "clinic", "version": "1.1.0", "sha256": target.sha256},
        "counts": {"replayed": 10000, "flipped": 12},
        "actions": {"allow": "70 → 58", "block": "30 → 42"}, "flips": "2 items"}
    assert kinds(folder, "proposal")[0]["body"]["attachment"] == attached


BAD = [  # (body, status, error code)
    ({"constitution": "clinic", "yaml": clinic()}, 409, "unchanged"),
    ({"constitution": "clinic", "yaml": clinic("1.0.0", '"other"')}, 400, "same_version"),
    ({"constitution": "clinic", "yaml": "id: [unclosed"}, 400, "bad_constitution"),
    ({"constitution": "clinic", "yaml": clinic("1.1.0").replace(
        "title:", "extends: /etc/passwd\ntitle:")}, 400, "bad_constitution"),
    ({"constitution": "clinic", "yaml": clinic("1.1.0").replace("id: clinic", "id: other")},
     400, "wrong_constitution"),
    ({"constitution": "clinic", "yaml": clinic("1.1.0", "")}, 400, "bad_constitution"),
    ({"constitution": "clinic"}, 400, "yaml_or_file"),
    ({"constitution": "nope", "from_file": True}, 404, "constitution_not_found"),
]


def test_bad_proposals_are_refused_naming_the_fix(folder: Path) -> None:
    """Unchanged, same version, not YAML, extends a path, another id, an invalid
    constitution, nothing given, an unknown id: each a clear error, nothing recorded."""
    with serving(folder) as served:
        answers = [served.client(ADMIN_KEY).post("/v1/constitutions/proposals", json=body)
                   for body, _, _ in BAD]
    for (body, status, code), answer in zip(BAD, answers, strict=True):
        assert (answer.status_code, answer.json()["error"]["code"]) == (status, code), body
    assert "posted yaml" in answers[5].json()["error"]["message"]
    assert kinds(folder, "proposal") == []


def test_proposing_needs_an_admin(folder: Path) -> None:
    """An auditor may approve, never propose."""
    with serving(folder) as served:
        answer = propose(served.client(AUDITOR_KEY), clinic("1.1.0"))
    assert answer.status_code == 403


def test_a_ledger_from_before_four_eyes_serves_the_file_and_says_so(folder: Path) -> None:
    """An activation record without content (written before four-eyes activation) cannot
    be served: the file is, and its start record names the version it replaced."""
    async def legacy() -> None:
        ledger = await open_ledger(str(folder / "ledger"), settings=Settings(
            ledger=str(folder / "ledger")))
        await ledger.append("constitution", {"id": "clinic", "version": "0.9.0",
                                             "sha256": "e" * 64, "activated_by": "startup"})
        await ledger.close()

    asyncio.run(legacy())
    with serving(folder) as served:
        now = active(served.client(AUDITOR_KEY))
    assert now["version"] == "1.0.0"
    start = kinds(folder, "constitution")[-1]["body"]
    assert start["id"] == "clinic" and start["replaces_unrecorded"] == "e" * 64
