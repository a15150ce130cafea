"""`supervisor.replay.replay`: exactly the records that flip, and honest gaps."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

from supervisor.constitution import load_constitution
from supervisor.ledger import open_ledger
from supervisor.pipeline import Supervisor
from supervisor.replay import Local, replay
from supervisor.replay.exchanges import NO_TEXT, REDACTED
from tests.replay.conftest import (
    FLIPS,
    TRAFFIC,
    build_ledger,
    settings_for,
    write_constitution,
)


def _records(path: Path) -> list[dict[str, Any]]:
    lines = b"".join(p.read_bytes() for p in sorted(path.glob("ledger-*.jsonl")))
    return [json.loads(line) for line in lines.splitlines()]


def test_only_the_changed_principle_flips_records(traffic_ledger: Path,
                                                   versions: tuple[Path, Path]) -> None:
    """Replaying 1.0.0 traffic under 1.1.0 flips exactly the three risk-free answers."""
    records = _records(traffic_ledger)
    seqs = [r["seq"] for r in records if r["kind"] == "decision"]
    result = replay(records, load_constitution(versions[1]), runner=Local(1))
    figures = result.figures()
    assert [(f["seq"], f["before"], f["after"]) for f in figures["flips"]] == [
        (seqs[i], *FLIPS[i]) for i in sorted(FLIPS)]
    assert all(f["gained"] == ["no-guarantees"] and f["lost"] == [] for f in figures["flips"])
    assert figures["counts"] == {"selected": 8, "replayed": 8, "not_replayable": 0,
                                 "flipped": 3, "principles_changed": 0,
                                 "replayed_from_redacted_text": 0}
    assert figures["actions"] == {
        "allow": {"before": 3, "after": 2}, "revise": {"before": 2, "after": 1},
        "block": {"before": 1, "after": 4}, "escalate": {"before": 2, "after": 1},
        "error": {"before": 0, "after": 0}}
    assert figures["principles"] == {
        "no-guarantees": {"before": 1, "after": 4}, "no-insider": {"before": 2, "after": 2},
        "risk-disclaimer": {"before": 2, "after": 2}}
    assert figures["transitions"] == {"allow->block": 1, "escalate->block": 1,
                                      "revise->block": 1}


def test_the_same_version_changes_nothing(traffic_ledger: Path,
                                          versions: tuple[Path, Path]) -> None:
    """Replaying under the constitution that decided reproduces every decision."""
    result = replay(_records(traffic_ledger), load_constitution(versions[0]), runner=Local(1))
    assert result.flips == ()
    assert all(o.before_fired == o.after_fired for o in result.outcomes)


def test_a_process_pool_gives_the_same_figures(traffic_ledger: Path,
                                               versions: tuple[Path, Path]) -> None:
    """Two spawned processes over chunks of three give what one thread gives."""
    records, target = _records(traffic_ledger), load_constitution(versions[1])
    alone = replay(records, target, runner=Local(1))
    pooled = replay(records, target, runner=Local(2), chunk=3)
    assert pooled.figures() == alone.figures()
    assert (pooled.runner, pooled.tasks) == ("local (2 workers)", 3)


def test_redacted_texts_are_not_replayed_under_a_pii_check(ledger_dir: Path,
                                                            tmp_path: Path) -> None:
    """A redacted text lacks what a pii check looks for: the record is not replayable,
    and the report names the principle; nothing is guessed."""
    source = write_constitution(tmp_path, "1.0.0", store_text="redacted")
    build_ledger(ledger_dir, source, [("Whose?", "Her SSN is 536-22-8193."),
                                      ("Mine?", "Yours is 078-05-1120, risk-free.")],
                 store_text="redacted")
    target = load_constitution(write_constitution(tmp_path, "1.1.0", pii=True))
    figures = replay(_records(ledger_dir), target, runner=Local(1)).figures()
    assert figures["counts"]["replayed"] == 0
    assert figures["counts"]["not_replayable"] == 2
    assert figures["not_replayable"]["by_reason"] == {REDACTED: 2}
    assert figures["not_replayable"]["by_principle"] == {"no-ssn": 2}


def test_redacted_texts_replay_when_no_principle_reads_identifiers(
        ledger_dir: Path, tmp_path: Path) -> None:
    """Without a pii check in the target, a redacted text is replayed, and counted as
    replayed from redacted text with a note saying so."""
    source = write_constitution(tmp_path, "1.0.0", store_text="redacted")
    build_ledger(ledger_dir, source, [("Mine?", "Yours is 078-05-1120, risk-free.")],
                 store_text="redacted")
    result = replay(_records(ledger_dir), load_constitution(
        write_constitution(tmp_path, "1.1.0")), runner=Local(1))
    figures = result.figures()
    assert figures["counts"]["replayed_from_redacted_text"] == 1
    assert [(f["before"], f["after"]) for f in figures["flips"]] == [("allow", "block")]
    assert any("redacted text" in note for note in figures["caveats"])


def test_records_without_texts_are_not_replayable(ledger_dir: Path,
                                                  versions: tuple[Path, Path]) -> None:
    """store_text: none keeps only hashes: every principle of the stage is named as
    not re-judged, and the record is counted apart."""
    build_ledger(ledger_dir, versions[0], TRAFFIC[:2], store_text="none")
    figures = replay(_records(ledger_dir), load_constitution(versions[1]),
                     runner=Local(1)).figures()
    assert figures["counts"]["not_replayable"] == 2
    assert figures["not_replayable"]["by_reason"] == {NO_TEXT: 2}
    assert figures["not_replayable"]["by_principle"] == {
        "no-guarantees": 2, "no-insider": 2, "risk-disclaimer": 2}
    assert figures["actions"]["allow"] == {"before": 0, "after": 0}


INPUT_STAGE = """\
id: inputtest
version: {version}
defaults: {{store_text: full}}
principles:
  - id: no-wire-requests
    statement: A prompt asking to move money by wire goes to a person first.
    applies_to: input
    action: {action}
    citations: ["test policy 5"]
    checks: [{{pattern: {{phrases: ["wire transfer"]}}}}]
  - id: no-guarantees
    statement: The answer never promises guaranteed investment returns.
    action: block
    citations: ["test policy 1"]
    checks: [{{pattern: {{phrases: ["guaranteed returns"]}}}}]
"""


def test_input_stage_decisions_replay_on_the_prompt(ledger_dir: Path,
                                                    tmp_path: Path) -> None:
    """An input-stage record is re-decided on its prompt: an input principle turned from
    flag to escalate flips it, and the output stage of another exchange stays."""
    paths = []
    for version, action in (("1.0.0", "flag"), ("1.1.0", "escalate")):
        paths.append(tmp_path / f"input-{version}.yaml")
        paths[-1].write_text(INPUT_STAGE.format(version=version, action=action))

    async def build() -> None:
        ledger = await open_ledger(str(ledger_dir), settings=settings_for(ledger_dir))
        supervisor = Supervisor(load_constitution(paths[0]), ledger=ledger)
        await supervisor.supervise(prompt="Please make a wire transfer", output="Done.")
        await supervisor.supervise(prompt="Hello", output="We promise guaranteed returns.")
        await ledger.close()

    asyncio.run(build())
    figures = replay(_records(ledger_dir), load_constitution(paths[1]),
                     runner=Local(1)).figures()
    assert figures["counts"]["replayed"] == 4  # two stages of two exchanges
    assert [(f["before"], f["after"]) for f in figures["flips"]] == [("allow", "escalate")]
    assert figures["principles"]["no-wire-requests"] == {"before": 1, "after": 1}  # flagged
    assert figures["principles"]["no-guarantees"] == {"before": 1, "after": 1}
