"""The Guard: configuration checks, the judge it is given, context, remembered history."""

from __future__ import annotations

import textwrap
from pathlib import Path

import openai
import pytest

from supervisor import OutputBlocked, load_constitution, supervised
from supervisor.constitution import Constitution
from supervisor.errors import ConfigError
from supervisor.middleware import request_context
from supervisor.middleware.guard import Guard
from supervisor.providers.fake import FakeProvider
from tests.fakes.openai_server import FakeOpenAI, completion
from tests.middleware.conftest import SIGN_OFF, decisions

JUDGED = """\
id: judged
version: 1.0.0
principles:
  - id: no-promises
    statement: The answer promises no outcome.
    action: block
    citations: [test]
    checks:
      - judge: {}
"""


def test_bad_arguments_are_refused_with_the_fix(rules: Constitution) -> None:
    """An unknown on_block, a non-string context value or a bad model ref is a ConfigError."""
    with pytest.raises(ConfigError, match="'raise'"):
        # on purpose: a value outside the Literal, to see the error
        Guard(rules, on_block="drop")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="strings"):
        # on purpose: a non-string context value, to see the error
        Guard(rules, context={"user": 17})  # type: ignore[dict-item]
    with pytest.raises(ConfigError, match="vendor"):
        Guard(rules, supervisor="nowhere:model")


def test_supervisor_reference_resolves_to_a_provider(rules: Constitution) -> None:
    """supervisor="local:smollm2" names the judge (the model loads only when first asked)."""
    # supervisor is Optional; this Guard was given one
    assert "local:smollm2" in Guard(rules, supervisor="local:smollm2").supervisor.name  # type: ignore[union-attr]


def test_the_given_judge_decides_judge_only_principles(tmp_path: Path, ledger_dir: str) -> None:
    """A Provider passed as `supervisor` is asked for verdicts; its block is enforced."""
    path = tmp_path / "judged.yaml"
    path.write_text(textwrap.dedent(JUDGED))
    judge = FakeProvider([{"verdicts": [{"principle": "no-promises", "violated": True,
                                         "confidence": 0.9, "rationale": "promises a cure",
                                         "evidence": ["cures you"]}]}])
    fake = FakeOpenAI([completion("This cures you in a week.")])
    with fake.serve() as url:
        client = supervised(openai.OpenAI(base_url=url + "/v1", max_retries=0),
                            constitution=load_constitution(path), supervisor=judge,
                            ledger=ledger_dir)
        with pytest.raises(OutputBlocked) as caught:
            client.chat.completions.create(model="m", messages=[
                {"role": "user", "content": "Will it work?"}])
    assert len(judge.calls) == 1
    assert caught.value.decision.provenance.supervisor == "fake:scripted"


def test_request_context_nests_and_resets(rules: Constitution) -> None:
    """Inner scopes add to outer ones; leaving a scope restores what was there."""
    guard = Guard(rules, context={"app": "a"})
    with request_context(user="u1"):
        with request_context(conversation="c1"):
            assert guard.context_now() == {"app": "a", "user": "u1", "conversation": "c1"}
        assert guard.context_now() == {"app": "a", "user": "u1"}
    assert guard.context_now() == {"app": "a"}


def test_history_resent_with_a_new_turn_is_screened_once(rules: Constitution,
                                                         ledger_dir: str) -> None:
    """An earlier user turn resent as history reuses its decision; the new turn is recorded."""
    fake = FakeOpenAI([completion(f"Fine. {SIGN_OFF}")], repeat_last=True)
    turn1 = [{"role": "user", "content": "first question"}]
    turn2 = [*turn1, {"role": "assistant", "content": "Fine."},
             {"role": "user", "content": "second question"}]
    with fake.serve() as url:
        client = supervised(openai.OpenAI(base_url=url + "/v1", max_retries=0),
                            constitution=rules, ledger=ledger_dir)
        client.chat.completions.create(model="m", messages=turn1)
        client.chat.completions.create(model="m", messages=turn2)
    stages = [(r["stage"], r["texts"]["original"]) for r in decisions(ledger_dir)]
    assert stages == [("input", "first question"), ("output", f"Fine. {SIGN_OFF}"),
                      ("input", "second question"), ("output", f"Fine. {SIGN_OFF}")]
