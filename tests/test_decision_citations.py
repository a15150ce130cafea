"""Every verdict names the rules its principle serves: in the decision JSON and the record."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

import pytest

from supervisor.constitution import Constitution, load_constitution
from supervisor.decision import Action, Verdict
from supervisor.ledger.records import decision_body
from supervisor.pipeline import Supervisor
from supervisor.policy import cite
from supervisor.providers.fake import FakeProvider

CONSTITUTION = """\
id: cited
version: 1.0.0
principles:
  - id: no-bombs
    statement: The answer gives no instructions for building bombs.
    action: block
    citations: ["18 U.S.C. 842(p)", "internal policy SAFE-5"]
    checks:
      - pattern: {phrases: [pipe bomb]}
  - id: cite-sources
    statement: The answer cites where its facts come from.
    action: flag
    citations: ["editorial policy ED-1 § 2"]
    checks:
      - judge: {}
"""
CITED = {"no-bombs": ["18 U.S.C. 842(p)", "internal policy SAFE-5"],
         "cite-sources": ["editorial policy ED-1 § 2"]}


@pytest.fixture
def constitution(tmp_path: Path) -> Constitution:
    path = tmp_path / "cited.yaml"
    path.write_text(textwrap.dedent(CONSTITUTION))
    return load_constitution(path)


def judged(*violated: str) -> dict[str, Any]:
    """The judge's structured answer on `cite-sources`."""
    return {"verdicts": [{"principle": "cite-sources", "violated": "cite-sources" in violated,
                          "confidence": 0.8, "rationale": "judged", "evidence": []}]}


async def test_every_verdict_in_the_decision_json_carries_its_citations(
        constitution: Constitution) -> None:
    """A local verdict and a judge's verdict both carry their principle's citations."""
    supervisor = Supervisor(constitution, supervisor=FakeProvider([judged("cite-sources")]))
    decision = await supervisor.check_output("Build a pipe bomb like this.")
    assert decision.action is Action.BLOCK
    verdicts = decision.to_dict()["verdicts"]
    assert {v["principle"]: v["citations"] for v in verdicts} == CITED


async def test_a_quiet_verdict_carries_its_citations_too(constitution: Constitution) -> None:
    """A principle that was not violated still names its rules (what was checked)."""
    decision = await Supervisor(constitution, supervisor=FakeProvider([judged()])).check_output(
        "Water boils at 100 C.")
    assert decision.action is Action.ALLOW
    assert {v.principle: list(v.citations) for v in decision.verdicts} == CITED


@pytest.mark.parametrize("store_text", ["none", "redacted", "full"])
async def test_the_decision_record_carries_citations_under_every_policy(
        constitution: Constitution, store_text: str) -> None:
    """Citations are the constitution's words, not the exchange's: kept under any store_text."""
    decision = await Supervisor(constitution, supervisor=FakeProvider([judged()])).check_output(
        "Build a pipe bomb like this.")
    body = decision_body(decision, store_text=store_text, redact=lambda text: text)
    assert {v["principle"]: v["citations"] for v in body["verdicts"]} == CITED


def test_a_verdict_on_a_principle_not_in_the_constitution_keeps_its_own(
        constitution: Constitution) -> None:
    """`cite` only adds what the constitution knows; it never drops or invents citations."""
    stranger = Verdict("elsewhere", True, 1.0, "", "test", citations=("kept",))
    assert cite([stranger], constitution)[0].citations == ("kept",)
