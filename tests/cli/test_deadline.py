"""Timeouts through the CLI: a clear message naming the setting, a non-zero exit, no traceback.

The judge is a fake OpenAI server that answers only after the deadline has long passed;
the constitution has judge checks only and stores no text, so nothing else loads (no spaCy
for a redaction) or takes time.
"""

from __future__ import annotations

import io
import json
import re
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest
from rich.console import Console

from supervisor.cli.progress import load_models
from supervisor.cli.render import show_decision
from supervisor.constitution import load_constitution
from supervisor.decision import Action, Decision, Provenance
from supervisor.pipeline import Supervisor
from tests.cli.conftest import Run
from tests.fakes.openai_server import FakeOpenAI, json_answer
from tests.fakes.scripted import Reply

JUDGE_ONLY = """\
    id: judge-only
    version: 1.0.0
    defaults: {store_text: none}
    principles:
      - id: cite-sources
        statement: The answer cites where its facts come from.
        action: revise
        citations: [t]
        checks: [{judge: {}}]
        examples:
          - output: Water boils at 100 C.
            expect: violated
          - output: Water boils at 100 C at sea level (CRC Handbook).
            expect: compliant
    """
LATE_S = 20  # the judge's answer comes this late: far past any deadline below


@pytest.fixture
def judge_only(tmp_path: Path) -> str:
    path = tmp_path / "judge-only.yaml"
    path.write_text(textwrap.dedent(JUDGE_ONLY))
    return str(path)


@pytest.fixture
def hung_judge(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeOpenAI]:
    """An OpenAI-compatible judge that never answers in time (OPENAI_BASE_URL points at it)."""
    fake = FakeOpenAI([Reply(200, json_answer({"verdicts": []}).body, delay=LATE_S)],
                      repeat_last=True)
    with fake.serve() as url:
        monkeypatch.setenv("OPENAI_BASE_URL", url + "/v1")
        monkeypatch.setenv("OPENAI_API_KEY", "test-key")
        monkeypatch.setenv("SUPERVISOR_CALL_TIMEOUT", str(LATE_S * 2))
        yield fake


def test_check_past_its_deadline_is_an_error_decision_naming_the_setting(
        run: Run, judge_only: str, hung_judge: FakeOpenAI,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """SUPERVISOR_DEADLINE=0.5 and a judge that never answers: exit 13, the reason says
    which deadline ran out and which setting raises it, and nothing is a traceback."""
    monkeypatch.setenv("SUPERVISOR_DEADLINE", "0.5")
    result = run("check", "--json", "-c", judge_only, "--supervisor", "openai:gpt-4o-mini",
                 "Water boils at 100 C.")
    decision = json.loads(result.out)
    assert result.code == 13 and decision["action"] == "error"
    assert "0.5 s deadline" in decision["reason"]
    assert "SUPERVISOR_DEADLINE" in decision["reason"]
    assert "Traceback" not in result.err


def test_constitution_test_past_its_deadline_says_so_without_a_traceback(
        run: Run, judge_only: str, hung_judge: FakeOpenAI) -> None:
    """`constitution test --deadline 0.3`: each late example is an error row naming the
    setting, the run exits 1; before, a raw TimeoutError escaped."""
    result = run("constitution", "test", judge_only, "--supervisor", "openai:gpt-4o-mini",
                 "--deadline", "0.3")
    assert result.code == 1
    out = " ".join(result.out.split())
    assert "0 passed, 0 failed, 0 unevaluated, 2 errors" in out
    assert "0.3 s deadline" in out and "SUPERVISOR_DEADLINE" in out
    assert "Traceback" not in result.err + result.out


def test_the_whole_reason_is_printed_however_long(tmp_path: Path) -> None:
    """The panel shows an error's whole reason (it was cut at the panel's width)."""
    path = tmp_path / "judge-only.yaml"
    path.write_text(textwrap.dedent(JUDGE_ONLY))
    rules = load_constitution(path)
    reason = ("primary model failed: no model answered (1 calls): local:smollm2: timeout "
              "(local:smollm2 gave no answer within 20 s; SUPERVISOR_CALL_TIMEOUT sets it)")
    decision = Decision(Action.ERROR, "output", "Hi", "", rules.defaults.refusal, (),
                        Provenance(rules.id, rules.version, rules.sha256), reason=reason,
                        released=False)
    console = Console(width=60, record=True, force_terminal=False)
    show_decision(console, decision)
    shown = " ".join(console.export_text().split())
    assert reason in shown


async def test_a_slow_load_is_announced_on_stderr_with_its_time(tmp_path: Path) -> None:
    """Past a second (here 0.05 s) of loading, the CLI says what loads, then how long it took."""
    from tests.test_loading import PATTERN, SlowToLoad, written

    supervisor = Supervisor(written(tmp_path, PATTERN), detectors={"pattern": SlowToLoad()})
    stream = io.StringIO()
    await load_models(supervisor, console=Console(file=stream, width=200), after_s=0.05)
    said = stream.getvalue()
    assert "loading pattern" in said and "the deadline starts after" in said
    assert re.search(r"loaded pattern in \d+\.\d s", said)
    again = io.StringIO()
    await load_models(supervisor, console=Console(file=again, width=200), after_s=0.05)
    assert again.getvalue() == ""  # loaded once per process: nothing more to say
