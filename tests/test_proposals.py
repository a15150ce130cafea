"""The fold of proposal, approval, rejection and activation records into proposal states."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from supervisor.constitution import load_constitution
from supervisor.ledger.canonical import canonical
from supervisor.proposals import (
    Book,
    attachment_of,
    changes,
    content_of,
    rebuilt,
    relevant,
    unified_diff,
)

OLD, NEW, OTHER = "a" * 64, "b" * 64, "c" * 64


class Records:
    """Ledger-shaped records with consecutive seqs."""

    def __init__(self) -> None:
        self.seq = 0

    def __call__(self, kind: str, body: dict[str, Any]) -> dict[str, Any]:
        self.seq += 1
        return {"seq": self.seq - 1, "id": f"rec_{self.seq}",
                "ts": f"2026-01-01T00:00:{self.seq:02d}Z", "kind": kind, "body": body}


def activation(sha: str, version: str = "1.0.0") -> dict[str, Any]:
    return {"id": "clinic", "version": version, "sha256": sha, "activated_by": "startup"}


def proposal(base: str, new: str, proposer: str = "ops") -> dict[str, Any]:
    return {"constitution": "clinic", "proposer": proposer,
            "base": {"version": "1.0.0", "sha256": base},
            "new": {"version": "1.1.0", "sha256": new}}


def approval(proposal_id: str, approver: str) -> dict[str, Any]:
    return {"proposal": proposal_id, "approver": approver}


@pytest.fixture
def record() -> Records:
    return Records()


def test_an_approval_by_the_proposer_is_void(record: Records) -> None:
    """Even written straight to the ledger, a self-approval leaves the proposal pending."""
    book = Book()
    book.observe_all([record("constitution", activation(OLD)),
                      made := record("proposal", proposal(OLD, NEW)),
                      record("approval", approval(made["id"], "ops"))])
    found = book.get(made["id"])
    assert found is not None and found.state == "pending"


def test_the_first_decision_wins(record: Records) -> None:
    """An approval after a rejection changes nothing."""
    book = Book()
    book.observe_all([record("constitution", activation(OLD)),
                      made := record("proposal", proposal(OLD, NEW)),
                      no := record("rejection", {"proposal": made["id"], "rejected_by": "rev",
                                                 "reason": "too strict"}),
                      record("approval", approval(made["id"], "other"))])
    found = book.get(made["id"])
    assert found is not None
    assert (found.state, found.decided_by, found.decision, found.reason) == (
        "rejected", "rev", no["id"], "too strict")


def test_a_proposal_turns_stale_when_another_version_is_activated(record: Records) -> None:
    """Its base is no longer active: shown stale, and a later approval is void."""
    book = Book()
    book.observe_all([record("constitution", activation(OLD)),
                      first := record("proposal", proposal(OLD, NEW)),
                      second := record("proposal", proposal(OLD, OTHER)),
                      record("approval", approval(first["id"], "rev")),
                      record("constitution", activation(NEW, "1.1.0")),
                      record("approval", approval(second["id"], "rev"))])
    assert [(p.id, p.state) for p in book.open()] == [(second["id"], "stale")]
    assert [p.id for p in book.decided()] == [first["id"]]
    assert book.active["clinic"].sha256 == NEW


def test_waiting_finds_an_open_proposal_of_the_same_change(record: Records) -> None:
    """So reloading the same changed file twice proposes it once."""
    book = Book()
    book.observe_all([record("constitution", activation(OLD)),
                      made := record("proposal", proposal(OLD, NEW))])
    found = book.waiting("clinic", NEW, OLD)
    assert found is not None and found.id == made["id"]
    assert book.waiting("clinic", OTHER, OLD) is None


def test_only_the_four_kinds_pass_the_line_filter(record: Records) -> None:
    """The pre-filter keeps proposal/approval/rejection/constitution lines, not others."""
    keep = [canonical(record(k, {})) for k in ("proposal", "approval", "rejection",
                                                 "constitution")]
    drop = [canonical(record(k, {"note": 'kind "proposal"'})) for k in ("decision", "access")]
    assert all(map(relevant, keep)) and not any(map(relevant, drop))


@pytest.mark.parametrize("name", ["base", "healthcare", "finance"])
def test_a_recorded_content_rebuilds_the_same_constitution(name: str) -> None:
    """What a proposal record carries is enough to serve the version, hash for hash."""
    loaded = load_constitution(name)
    again = rebuilt(content_of(loaded), path=loaded.path, lineage=loaded.lineage)
    assert again.sha256 == loaded.sha256 and again == loaded


def test_changes_and_diff_name_what_changed() -> None:
    """A removed principle and a changed default show in both the summary and the diff."""
    old = load_constitution("finance")
    gone = old.principles[0]
    new = replace(old, version="9.0.0", principles=old.principles[1:],
                  defaults=old.defaults.model_copy(update={"max_revisions": 0}))
    found = changes(old, new)
    assert found["removed"] == [gone.id] and found["added"] == []
    assert found["defaults"] == ["max_revisions"] and found["changed"] == {}
    diff = unified_diff(old, new)
    assert diff.startswith(f"--- finance {old.version}")
    assert f'-      "id": "{gone.id}",' in diff.splitlines()
    assert '+  "version": "9.0.0"' in diff.splitlines()


def test_a_markdown_report_is_summarised_by_its_first_lines() -> None:
    """Not JSON: kept as its sha256, size and first non-empty lines."""
    text = "# Replay of finance 2.0.0\n\n12 of 10000 records flip.\n" + "x\n" * 40
    found = attachment_of(text)
    assert found["format"] == "markdown" and found["bytes"] == len(text)
    assert found["summary"].splitlines()[:2] == ["# Replay of finance 2.0.0",
                                                 "12 of 10000 records flip."]
    assert len(found["summary"].splitlines()) == 12


def test_of_two_approvals_racing_on_one_base_only_the_first_counts(record: Records) -> None:
    """Two workers approve two proposals on the same base before either activation
    record: the second approval is void, so only one version becomes active."""
    book = Book()
    book.observe_all([record("constitution", activation(OLD)),
                      first := record("proposal", proposal(OLD, NEW)),
                      second := record("proposal", proposal(OLD, OTHER)),
                      record("approval", approval(first["id"], "rev")),
                      record("approval", approval(second["id"], "ops-2"))])
    assert book.active["clinic"].sha256 == NEW
    assert [(p.id, p.state) for p in book.open()] == [(second["id"], "stale")]
