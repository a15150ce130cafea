"""`supervisor serve`'s banner: the API key secrets are shown once, when generated."""

from __future__ import annotations

import ast
import io
import json
import shlex
from pathlib import Path

import pytest
from rich.console import Console

from api.keys import configured
from supervisor.cli.serve import banner
from supervisor.constitution import load_constitution
from supervisor.detectors.pattern import PatternDetector
from supervisor.settings import Settings

ENV_ADMIN = "env-admin-key-0123456789abcdef"


def _banner(settings: Settings) -> str:
    out = io.StringIO()
    banner(Console(file=out, width=200, highlight=False), "127.0.0.1", 8000,
           configured(settings))
    return out.getvalue()


def test_generated_keys_are_shown_on_the_first_start_only(tmp_path: Path) -> None:
    """The start that generates the key file prints the secrets; the next prints names."""
    settings = Settings(ledger=str(tmp_path / "ledger"))
    first = _banner(settings)
    path = settings.signing_key_dir / "api-keys"
    secrets = [line.split(":")[2] for line in path.read_text().split()]
    assert len(secrets) == 3 and all(s in first for s in secrets)
    assert "shown only this once" in first
    second = _banner(settings)
    assert not [s for s in secrets if s in second]
    assert "admin-local" in second and str(path) in second and "APP_KEY" in second
    assert path.read_text().split() == [f"{r}:{n}:{k}" for r, n, k in
                                         configured(settings).keys]  # unchanged


def test_keys_from_the_environment_are_never_shown(tmp_path: Path) -> None:
    """SUPERVISOR_API_KEYS secrets stay out of the banner; their names and roles are in it."""
    settings = Settings(ledger=str(tmp_path / "ledger"),
                        api_keys=f"admin:ops:{ENV_ADMIN},app:{'a' * 20}")
    shown = _banner(settings)
    assert ENV_ADMIN not in shown and "a" * 20 not in shown
    assert "ops" in shown and "SUPERVISOR_API_KEYS" in shown
    assert not (settings.signing_key_dir / "api-keys").exists()



def _examples(settings: Settings, width: int) -> dict[str, list[str]]:
    """The banner's examples at a terminal width: each title's lines, up to a blank line."""
    out = io.StringIO()
    banner(Console(file=out, width=width, highlight=False), "127.0.0.1", 8000,
           configured(settings))
    blocks: dict[str, list[str]] = {}
    title = None
    for line in out.getvalue().splitlines():
        if line.startswith(("OpenAI SDK", "Anthropic SDK", "curl ")) and title is None:
            title = line.split(" (")[0]
            blocks[title] = []
        elif title is not None and line:
            blocks[title].append(line)
        else:
            title = None
    return blocks


def test_examples_paste_whole_at_any_terminal_width(tmp_path: Path) -> None:
    """In a narrow terminal, no newline lands inside a literal: each block still parses,
    and the curl example is one shell command with a JSON body."""
    for width in (40, 80):
        settings = Settings(ledger=str(tmp_path / f"ledger-{width}"))
        blocks = _examples(settings, width)  # the first start: the real key is shown
        app_key = next(k for r, _, k in configured(settings).keys if r == "app")
        assert set(blocks) == {"OpenAI SDK", "Anthropic SDK", "curl"}
        for title in ("OpenAI SDK", "Anthropic SDK"):
            tree = ast.parse("\n".join(blocks[title]))  # a SyntaxError fails the test
            assert len(tree.body) == len(blocks[title])  # one statement a line
        [curl] = blocks["curl"]
        words = shlex.split(curl)
        assert words[0] == "curl" and f"Authorization: Bearer {app_key}" in words
        json.loads(words[words.index("-d") + 1])
        assert any(app_key in line for line in blocks["OpenAI SDK"])


def test_curl_example_asks_healthcare_and_its_answer_is_blocked(tmp_path: Path) -> None:
    """The curl body names the healthcare constitution, whose checks block its input; the
    default constitution (base) would let it through, so the example would show nothing."""
    [curl] = _examples(Settings(ledger=str(tmp_path / "ledger")), 80)["curl"]
    words = shlex.split(curl)
    body = json.loads(words[words.index("-d") + 1])
    assert body["model"] == "healthcare"
    healthcare = load_constitution(body["model"])
    found = PatternDetector().scan(healthcare.stage("output"), prompt="", text=body["input"])
    actions = {p.id: p.action for p in healthcare.principles}
    assert "block" in {actions[principle] for principle in found}


def test_a_short_key_stops_a_multi_worker_start_before_any_worker(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    """With --workers 2 the parent checks the keys: before, each forked worker failed
    on its own and the parent served nothing without saying why."""
    import uvicorn

    from supervisor.cli import main

    started: list[object] = []
    monkeypatch.setattr(uvicorn, "run", lambda *a, **k: started.append(a))
    monkeypatch.setattr("supervisor.cli.workers.run", lambda *a, **k: started.append(a))
    monkeypatch.setenv("SUPERVISOR_LEDGER", str(tmp_path / "ledger"))
    monkeypatch.setenv("SUPERVISOR_API_KEYS", "app:short")
    with pytest.raises(SystemExit) as exited:
        main(["serve", "--workers", "2", "--port", "8799"])
    assert exited.value.code != 0 and not started
    assert "too short" in capsys.readouterr().err
