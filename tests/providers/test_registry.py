"""Model references to Providers: vendors, fallback chains, settings, and clear refusals."""

from __future__ import annotations

import pytest

from supervisor.errors import ConfigError
from supervisor.providers.anthropic import AnthropicProvider
from supervisor.providers.local import LocalProvider
from supervisor.providers.openai import OpenAIProvider
from supervisor.providers.registry import providers_from, refs, resolve
from supervisor.providers.resilience import Resilient
from supervisor.settings import Settings


@pytest.fixture(autouse=True)
def keys(monkeypatch: pytest.MonkeyPatch) -> None:
    """Vendor keys set (to nothing real): references resolve without a network."""
    monkeypatch.setenv("ANTHROPIC_API_KEY", "test")
    monkeypatch.setenv("OPENAI_API_KEY", "test")


def test_each_vendor_reference_builds_its_adapter() -> None:
    """anthropic:, openai: and local: each give their adapter, wrapped for resilience."""
    chain = resolve("anthropic:claude-haiku-4-5,openai:gpt-4o-mini,local:smollm2", timeout=7)
    assert isinstance(chain, Resilient)
    kinds = [type(p) for p in chain.providers]
    assert kinds == [AnthropicProvider, OpenAIProvider, LocalProvider]
    assert chain.name == "anthropic:claude-haiku-4-5,openai:gpt-4o-mini,local:smollm2"
    assert [p.timeout for p in chain.policies] == [7, 7, None]  # local: the deadline's


def test_a_local_model_has_no_per_call_timeout_beyond_the_deadline() -> None:
    """A local generation is computation, not a call that may hang: no 20 s call timeout
    (a busy 2-core machine needs longer), the supervision's deadline bounds it."""
    chain = resolve(["openai:gpt-4o-mini", "local:smollm2"], timeout=20)
    assert [p.timeout for p in chain.policies] == [20, None]


def test_a_local_model_is_not_retried() -> None:
    """Running a local model again cannot fix it: one attempt; vendors get the retry budget."""
    chain = resolve(["openai:gpt-4o-mini", "local:smollm2"])
    assert [p.attempts for p in chain.policies] == [3, 1]


def test_refs_split_lists_and_commas() -> None:
    """A list, a comma-separated string, or both, with blanks ignored."""
    assert refs(["a:x, b:y", "c:z", " "]) == ("a:x", "b:y", "c:z")


def test_local_path_reference() -> None:
    """local:/path/to/model.gguf names any file; a missing file is a ConfigError."""
    model = LocalProvider("smollm2").path
    assert resolve(f"local:{model}").providers[0].name == f"local:{model}"
    with pytest.raises(ConfigError, match="no GGUF file"):
        resolve("local:/nonexistent/model.gguf")


@pytest.mark.parametrize("ref", ["gpt-4o", "anthropic:", "mistral:large", ""])
def test_bad_references_list_the_accepted_forms(ref: str) -> None:
    """A reference without a known vendor or a model says which forms are accepted."""
    with pytest.raises(ConfigError, match=r"local:smollm2"):
        resolve(ref)


def test_fake_reference_is_refused_with_a_reason() -> None:
    """fake: has no script to answer from; the error says to build FakeProvider in code."""
    with pytest.raises(ConfigError, match="FakeProvider"):
        resolve("fake:scripted")


def test_providers_from_prefers_the_command_line() -> None:
    """--primary / --supervisor win over the settings; settings fill in what is not given."""
    settings = Settings(primary=("local:smollm2",), supervisor=("openai:gpt-4o-mini",),
                        call_timeout_s=9)
    models = providers_from(settings, supervisor=["anthropic:claude-haiku-4-5"])
    assert models.primary is not None and models.primary.name == "local:smollm2"
    assert models.supervisor is not None
    assert models.supervisor.name == "anthropic:claude-haiku-4-5"
    fallback = providers_from(settings, need_primary=False)
    assert fallback.primary is None
    assert fallback.supervisor is not None and fallback.supervisor.name == "openai:gpt-4o-mini"


def test_no_supervisor_configured_keeps_local_checks_only() -> None:
    """No --supervisor and no SUPERVISOR_SUPERVISOR_MODEL: the supervisor is None."""
    assert providers_from(Settings(), need_primary=False).supervisor is None
