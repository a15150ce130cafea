"""A decision tells the primary model's calls from the supervisor's (`primary_usage`)."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

from supervisor.constitution import load_constitution
from supervisor.ledger.records import decision_body
from supervisor.pipeline import Supervisor
from supervisor.providers import ChatRequest
from supervisor.providers.fake import FakeProvider

RULES = """\
id: usage-test
version: 1.0.0
defaults: {store_text: full}
principles:
  - id: cite-sources
    statement: The answer cites where its facts come from.
    action: flag
    citations: [t]
    checks:
      - judge: {}
"""


def _verdicts(request: ChatRequest) -> dict[str, Any]:
    return {"verdicts": [{"principle": "cite-sources", "violated": False, "confidence": 0.9,
                          "rationale": "cites a source", "evidence": []}]}


async def test_primary_usage_is_the_primary_share_of_usage(tmp_path: Path) -> None:
    """One primary call and one judge call: usage counts 2, primary_usage 1, in the record too."""
    path = tmp_path / "rules.yaml"
    path.write_text(textwrap.dedent(RULES))
    primary = FakeProvider(["Water boils at 100 C (source: CRC)."], name="fake:primary")
    judge = FakeProvider(_verdicts, name="fake:judge")
    decision = await Supervisor(load_constitution(path), primary=primary,
                                supervisor=judge).supervise(prompt="When does water boil?")
    assert decision.usage.calls == 2 and decision.primary_usage.calls == 1
    assert decision.primary_usage.output_tokens == primary.output_tokens
    body = decision_body(decision, store_text="full")
    assert body["primary_usage"]["calls"] == 1 and body["usage"]["calls"] == 2


async def test_a_checked_answer_has_no_primary_usage(tmp_path: Path) -> None:
    """When the caller brings the answer, every call is the supervisor's."""
    path = tmp_path / "rules.yaml"
    path.write_text(textwrap.dedent(RULES))
    judge = FakeProvider(_verdicts, name="fake:judge")
    decision = await Supervisor(load_constitution(path), supervisor=judge).check_output("Text.")
    assert decision.usage.calls == 1 and decision.primary_usage.calls == 0
