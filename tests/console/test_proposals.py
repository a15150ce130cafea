"""The console's proposals page: a pending version with its diff and replay figures, and
the approve / reject forms for anyone but its proposer.

The service serves the small `clinic` constitution of tests/api/test_proposals.py (no
detector models to wait for); the browser is the conftest's `Console.login`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.api.test_proposals import clinic, propose, serving
from tests.console.conftest import ADMIN_KEY, AUDITOR_KEY, Console, token

REPORT = json.dumps({"counts": {"replayed": 10000, "flipped": 17},
                     "actions": {"block": {"before": 40, "after": 57}},
                     "target": {"id": "clinic", "version": "1.1.0", "sha256": "0" * 64}})


@pytest.fixture
def console(tmp_path: Path) -> Iterator[Console]:
    (tmp_path / "clinic.yaml").write_text(clinic(), encoding="utf-8")
    with serving(tmp_path) as served:
        yield Console(served.url, served.service, phi="", escalated="", allowed="")


def proposed(console: Console) -> dict[str, Any]:
    """A proposal of clinic 1.1.0 by the admin `ops`, with a replay report attached."""
    with console.client() as client:
        client.headers["authorization"] = f"Bearer {ADMIN_KEY}"
        made = propose(client, clinic("1.1.0", '"take 1000 mg"'), attachment=REPORT)
    assert made.status_code == 201, made.text
    found: dict[str, Any] = made.json()
    return found


def form_of(html: str, action: str) -> str:
    """The CSRF token of the form posting to `action`."""
    found = re.search(rf'action="{re.escape(action)}"[^>]*>\s*<input type="hidden" '
                      r'name="csrf" value="([^"]+)"', html)
    assert found, f"no form posting to {action}"
    return found.group(1)


def test_the_page_lists_a_pending_proposal_with_its_diff_and_replay_figures(
        console: Console) -> None:
    """An auditor sees the proposal, the added line of the diff, the report's figures and
    an approve form; the read leaves an access record."""
    made = proposed(console)
    with console.login(AUDITOR_KEY) as browser:
        shown = browser.get("/console/proposals")
    assert shown.status_code == 200
    html = shown.text
    assert made["id"] in html and "clinic 1.0.0 → 1.1.0" in html
    assert re.search(r'<ins>\+\s+&#34;take 1000 mg&#34;</ins>', html), html
    assert "<th scope=\"row\">counts</th><td>flipped: 17, replayed: 10000</td>" in html
    assert "<th scope=\"row\">actions</th><td>block: 40 → 57</td>" in html
    assert 'id="replay-differs"' in html  # this report replayed another version
    assert f'action="/console/proposals/{made["id"]}/approve"' in html
    assert 'aria-current="page">Proposals' in html
    access = [r["body"] for r in console.service.ledger.records_in_order()
              if r["kind"] == "access"]
    assert {"actor": "reviewer-1", "what": "proposals", "count": 1,
            "via": "console"} in access


def test_approving_on_the_page_activates_the_version(console: Console) -> None:
    """The approve form (with its CSRF token) activates 1.1.0 and says so."""
    made = proposed(console)
    action = f"/console/proposals/{made['id']}/approve"
    with console.login(AUDITOR_KEY) as browser:
        html = browser.get("/console/proposals").text
        done = browser.post(action, data={"csrf": form_of(html, action), "note": "ok"})
    assert done.status_code == 200 and "was approved; its version is active now" in done.text
    assert console.service.constitution("clinic").version == "1.1.0"
    assert "No proposal is waiting." in done.text
    approval = [r["body"] for r in console.service.ledger.records_in_order()
                if r["kind"] == "approval"]
    assert [(a["approver"], a["proposal"], a["note"]) for a in approval] == [
        ("reviewer-1", made["id"], "ok")]


def test_the_proposer_gets_no_approve_form_and_is_refused_anyway(console: Console) -> None:
    """The proposer is told another person must approve; a forged post is a 403 page."""
    made = proposed(console)
    with console.login(ADMIN_KEY) as browser:
        html = browser.get("/console/proposals").text
        forged = browser.post(f"/console/proposals/{made['id']}/approve",
                              data={"csrf": token(html)})
    assert "You proposed this version" in html
    assert f'action="/console/proposals/{made["id"]}/approve"' not in html
    assert forged.status_code == 403 and "cannot approve it too" in forged.text
    assert console.service.constitution("clinic").version == "1.0.0"


def test_rejecting_on_the_page_records_the_reason(console: Console) -> None:
    """A rejection moves the proposal to the decided table with its reason."""
    made = proposed(console)
    action = f"/console/proposals/{made['id']}/reject"
    with console.login(AUDITOR_KEY) as browser:
        html = browser.get("/console/proposals").text
        done = browser.post(action, data={"csrf": form_of(html, action),
                                          "reason": "the replay blocks too much"})
    assert "was rejected" in done.text and "the replay blocks too much" in done.text
    assert console.service.constitution("clinic").version == "1.0.0"
