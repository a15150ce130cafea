"""`supervisor constitution propose|approve|reject` against a running service."""

from __future__ import annotations

import re
from pathlib import Path

from tests.api.conftest import ADMIN_KEY, AUDITOR_KEY
from tests.api.test_proposals import clinic, serving
from tests.cli.conftest import Run


def test_propose_then_approve_from_the_terminal_activates(run: Run, tmp_path: Path) -> None:
    """An admin proposes a file with a replay report attached; the proposer cannot
    approve it (exit 1, the service's reason); an auditor can, and it is active."""
    (tmp_path / "clinic.yaml").write_text(clinic(), encoding="utf-8")
    (tmp_path / "next.yaml").write_text(clinic("1.1.0", '"take 9 mg"'), encoding="utf-8")
    (tmp_path / "replay.md").write_text("# Replay\n\n3 of 100 records flip.\n")
    with serving(tmp_path) as served:
        made = run("constitution", "propose", str(tmp_path / "next.yaml"), "--server",
                   served.url, "--key", ADMIN_KEY, "--attach", str(tmp_path / "replay.md"))
        found = re.search(r"proposed clinic 1\.1\.0 as (rec_\w+);", made.out)
        assert found, made.out + made.err  # the in-process server logs to stdout too
        proposal = served.service.activation.proposal(found.group(1)).to_dict()
        own = run("constitution", "approve", proposal["id"], "--server", served.url,
                  "--key", ADMIN_KEY)
        approved = run("constitution", "approve", proposal["id"], "--server", served.url,
                       "--key", AUDITOR_KEY)
        version = served.service.constitution("clinic").version
    assert made.code == 0, made.err
    assert proposal["attachment"]["summary"].startswith("# Replay")
    assert own.code == 1 and "403" in own.err and "cannot approve it too" in own.err
    assert approved.code == 0 and "clinic 1.1.0 is active" in approved.out
    assert version == "1.1.0"


def test_an_unreachable_service_is_a_clear_error(run: Run, tmp_path: Path) -> None:
    """No traceback: the message says to start the service or pass --server."""
    (tmp_path / "next.yaml").write_text(clinic("1.1.0"), encoding="utf-8")
    result = run("constitution", "reject", "rec_x", "--reason", "no", "--server",
                 "http://127.0.0.1:9", "--key", AUDITOR_KEY)
    assert result.code == 2 and "cannot reach the service" in result.err
    assert "Traceback" not in result.err
