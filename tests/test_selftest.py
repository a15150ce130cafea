"""Constitution self-tests: examples run against their own principle, leave-one-out."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

import pytest

from supervisor.constitution import load_constitution
from supervisor.detectors.dose import DoseDetector
from supervisor.detectors.pattern import PatternDetector
from supervisor.errors import ConfigError
from supervisor.providers.fake import FakeProvider
from supervisor.selftest import run_examples

BODY = """\
id: st
version: 1.0.0
principles:
  - id: no-guarantees
    statement: The answer promises no guaranteed returns.
    action: block
    citations: [FINRA 2210]
    checks:
      - pattern: {phrases: [guaranteed returns]}
    examples:
      - {output: "Enjoy guaranteed returns!", expect: violated}
      - {output: "Returns are never certain.", expect: EXPECT}
  - id: judged-only
    statement: The answer is polite to the user at all times.
    action: flag
    citations: [style]
    checks:
      - judge: {}
    examples:
      - {output: "Go away.", expect: violated}
"""


async def test_examples_pass_and_mismatches_are_reported(tmp_path: Path) -> None:
    """A correctly labelled example passes; a mislabelled one fails with what was found."""
    path = tmp_path / "st.yaml"
    path.write_text(textwrap.dedent(BODY).replace("EXPECT", "violated"))
    report = await run_examples(load_constitution(path),
                                detectors={"pattern": PatternDetector()})
    outcomes = {(r.principle, r.index): r.outcome for r in report.results}
    assert outcomes[("no-guarantees", 0)] == "pass"
    assert outcomes[("no-guarantees", 1)] == "fail"
    assert not report.ok


async def test_judge_only_examples_are_unevaluated_without_a_judge(tmp_path: Path) -> None:
    """Without a supervisor model a judge-only example is unevaluated, and not ok."""
    path = tmp_path / "st.yaml"
    path.write_text(textwrap.dedent(BODY).replace("EXPECT", "compliant"))
    report = await run_examples(load_constitution(path),
                                detectors={"pattern": PatternDetector()})
    assert report.count("unevaluated") == 1 and report.count("pass") == 2
    assert not report.ok


async def test_shipped_pattern_principles_pass_their_examples() -> None:
    """Every shipped principle checked by patterns (and the dose check that sits beside
    them in dosing-limits) behaves as its examples are labelled."""
    for cid in ("base", "healthcare", "finance"):
        c = load_constitution(cid)
        report = await run_examples(c, detectors={"pattern": PatternDetector(),
                                                  "dose": DoseDetector()})
        failures = [r for r in report.results
                    if r.outcome != "pass" and "pattern" in c.principle(r.principle).kinds()]
        assert failures == [], cid


def judged_only(violated: bool) -> dict[str, Any]:
    return {"verdicts": [{"principle": "judged-only", "violated": violated, "confidence": 0.9,
                          "rationale": "judged", "evidence": []}]}


async def test_the_supervisor_model_judges_and_judge_is_its_old_name(tmp_path: Path) -> None:
    """`supervisor=` evaluates the judge-only example; `judge=` does the same with a
    DeprecationWarning, and both at once is refused rather than one ignored."""
    path = tmp_path / "st.yaml"
    path.write_text(textwrap.dedent(BODY).replace("EXPECT", "compliant"))
    rules = load_constitution(path)
    only = {"pattern": PatternDetector()}
    report = await run_examples(rules, supervisor=FakeProvider([judged_only(True)]),
                                detectors=only)
    assert report.count("pass") == 3 and report.ok
    with pytest.warns(DeprecationWarning, match=r"run_examples\(judge=...\) is deprecated"):
        old = await run_examples(rules, judge=FakeProvider([judged_only(False)]),
                                 detectors=only)
    assert old.count("fail") == 1  # the model's verdict was used: it said not violated
    with pytest.raises(ConfigError, match="pass supervisor= only"):
        await run_examples(rules, judge=FakeProvider([]), supervisor=FakeProvider([]),
                           detectors=only)
