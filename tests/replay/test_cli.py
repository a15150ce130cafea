"""`supervisor replay` as a compliance officer runs it: a report, one ledger record."""

from __future__ import annotations

import hashlib
import json
import socket
from pathlib import Path
from typing import Any

from tests.cli.conftest import Run
from tests.replay.conftest import TRAFFIC, build_ledger, write_constitution


def _records(path: Path) -> list[dict[str, Any]]:
    lines = b"".join(p.read_bytes() for p in sorted(path.glob("ledger-*.jsonl")))
    return [json.loads(line) for line in lines.splitlines()]


def test_replay_appends_one_replay_record_and_the_ledger_verifies(
        run: Run, traffic_ledger: Path, versions: tuple[Path, Path], tmp_path: Path) -> None:
    """The ledger gains one `replay` record (and the checkpoint signing it), no decision;
    the record names the target, the counts and the report's sha256; verify passes."""
    before = _records(traffic_ledger)
    report = tmp_path / "report"
    result = run("replay", "-c", str(versions[1]), "--workers", "1", "--report", str(report),
                 "--by", "compliance-officer", "--json")
    assert result.code == 0, result.err
    printed = json.loads(result.out)
    added = _records(traffic_ledger)[len(before):]
    assert [r["kind"] for r in added] == ["replay", "checkpoint"]
    body = added[0]["body"]
    assert added[0]["id"] == printed["record"]
    assert body["by"] == "compliance-officer"
    assert body["target"] == {"id": "replaytest", "version": "1.1.0",
                              "sha256": printed["target"]["sha256"]}
    assert body["source"]["filter"] == {"kind": "decision"}
    assert body["counts"]["flipped"] == 3
    digest = hashlib.sha256((report / "report.json").read_bytes()).hexdigest()
    assert body["report_sha256"] == printed["report_sha256"] == digest
    assert run("audit", "verify").code == 0


def test_report_lists_the_flips_in_markdown_html_and_charts(
        run: Run, traffic_ledger: Path, versions: tuple[Path, Path], tmp_path: Path) -> None:
    """The report folder holds Markdown, HTML, two PNG charts and the flips as CSV."""
    report = tmp_path / "report"
    assert run("replay", "-c", str(versions[1]), "--workers", "1",
               "--report", str(report)).code == 0
    flips = json.loads((report / "report.json").read_text())["flips"]
    markdown = (report / "report.md").read_text()
    html = (report / "report.html").read_text()
    for flip in flips:
        assert flip["record"] in markdown and flip["record"] in html
    assert "| no-guarantees | 1 | 4 | +3 |" in markdown
    for chart in ("actions.png", "principles.png"):
        assert (report / chart).read_bytes().startswith(b"\x89PNG")
        assert chart in markdown and chart in html
    assert len((report / "flips.csv").read_text().splitlines()) == 1 + len(flips) == 4


def test_filters_select_what_is_replayed(run: Run, traffic_ledger: Path,
                                         versions: tuple[Path, Path]) -> None:
    """--action escalate replays only the two escalated decisions; one of them flips."""
    result = run("replay", "-c", str(versions[1]), "--workers", "1", "--action", "escalate",
                 "--json")
    printed = json.loads(result.out)
    assert printed["counts"]["selected"] == 2
    assert [(f["before"], f["after"]) for f in printed["flips"]] == [("escalate", "block")]
    assert printed["source"]["filter"] == {"action": "escalate", "kind": "decision"}


def test_the_printout_names_flips_and_the_record(run: Run, traffic_ledger: Path,
                                                 versions: tuple[Path, Path]) -> None:
    """Without --json a short summary: the flips, the changed principle, the record id."""
    result = run("replay", "-c", str(versions[1]), "--workers", "1")
    assert result.code == 0
    assert "3 flip" in result.out
    assert "no-guarantees 1->4" in result.out
    assert "allow -> block" in result.out
    assert "ledger record rec_" in result.out


def test_an_unknown_constitution_is_a_clear_error(run: Run, traffic_ledger: Path) -> None:
    """A target that does not exist exits 2 naming the shipped ids; no traceback."""
    result = run("replay", "-c", "no-such-constitution")
    assert result.code == 2
    assert "no constitution 'no-such-constitution'" in result.err
    assert "Traceback" not in result.err


def test_an_empty_selection_is_a_clear_error(run: Run, traffic_ledger: Path,
                                             versions: tuple[Path, Path]) -> None:
    """A filter that matches nothing exits 2 saying what to widen; nothing is appended."""
    before = len(_records(traffic_ledger))
    result = run("replay", "-c", str(versions[1]), "--since", "2099-01-01")
    assert result.code == 2
    assert "no decision records" in result.err and "widen --since/--until" in result.err
    assert len(_records(traffic_ledger)) == before


def test_a_bad_time_is_a_clear_error(run: Run, traffic_ledger: Path,
                                     versions: tuple[Path, Path]) -> None:
    """--since that is not a date names the option's field and the accepted form."""
    result = run("replay", "-c", str(versions[1]), "--since", "last tuesday")
    assert result.code == 2
    assert "since='last tuesday' is not a date or time" in result.err


def test_a_missing_ledger_is_a_clear_error(run: Run, versions: tuple[Path, Path],
                                           tmp_path: Path) -> None:
    """--ledger pointing nowhere says where it looked; nothing is created there."""
    missing = tmp_path / "nowhere"
    result = run("replay", "-c", str(versions[1]), "--ledger", str(missing))
    assert result.code == 4
    assert str(missing) in result.err
    assert not missing.exists()


def test_a_bad_supervisor_model_is_a_clear_error(run: Run, traffic_ledger: Path,
                                                 versions: tuple[Path, Path]) -> None:
    """An unknown --supervisor vendor exits 2 before any work starts; nothing appended."""
    before = len(_records(traffic_ledger))
    result = run("replay", "-c", str(versions[1]), "--supervisor", "nosuch:model")
    assert result.code == 2
    assert "unknown model vendor 'nosuch'" in result.err
    assert len(_records(traffic_ledger)) == before


def test_an_unreachable_ray_address_is_a_clear_error(run: Run, traffic_ledger: Path,
                                                     versions: tuple[Path, Path]) -> None:
    """--ray at a port nobody listens on exits 2 at once, naming the address."""
    with socket.socket() as probe:  # a free port, closed again: nothing listens there
        probe.bind(("127.0.0.1", 0))
        address = f"127.0.0.1:{probe.getsockname()[1]}"
    result = run("replay", "-c", str(versions[1]), "--ray", address)
    assert result.code == 2
    assert f"cannot reach a Ray cluster at '{address}'" in result.err


def test_the_printout_names_principles_not_rejudged(run: Run, ledger_dir: Path,
                                                    tmp_path: Path) -> None:
    """Records stored without text: the printout says so and names each principle."""
    source = write_constitution(tmp_path, "1.0.0", store_text="none")
    build_ledger(ledger_dir, source, TRAFFIC[:3], store_text="none")
    result = run("replay", "-c", str(write_constitution(tmp_path, "1.1.0")),
                 "--workers", "1")
    assert result.code == 0
    assert "not replayable: 3 (no text stored (store_text: none))" in result.out
    assert "principles not re-judged: no-guarantees (3), no-insider (3), " \
           "risk-disclaimer (3)" in result.out
