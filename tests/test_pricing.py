"""Cost of model calls from the price table; unknown models cost unknown, never zero."""

from __future__ import annotations

from pathlib import Path

import pytest

from supervisor.decision import Usage
from supervisor.errors import ConfigError
from supervisor.pricing import SHIPPED, price
from supervisor.providers import ChatResponse


def response(provider: str, model: str) -> ChatResponse:
    return ChatResponse("x", model=model, provider=provider, input_tokens=1_000_000,
                        output_tokens=2_000_000)


def test_known_model_is_priced_per_million_tokens() -> None:
    """gpt-4o-mini: 1M input at 0.15 plus 2M output at 0.60."""
    assert price(response("openai", "gpt-4o-mini"), str(SHIPPED)) == pytest.approx(1.35)


def test_dated_snapshot_is_priced_as_its_alias() -> None:
    """A vendor's dated answer (gpt-4o-mini-2024-07-18) takes the longest alias's price."""
    assert price(response("openai", "gpt-4o-mini-2024-07-18"), str(SHIPPED)) == \
        pytest.approx(1.35)
    assert price(response("openai", "gpt-4o-minimal"), str(SHIPPED)) is None


def test_unknown_model_costs_unknown_and_poisons_the_sum() -> None:
    """An unpriced model is None, and any sum that includes it is None too."""
    assert price(response("openai", "no-such-model"), str(SHIPPED)) is None
    assert (Usage(1, 1, 1, 0.5) + Usage(1, 1, 1, None)).cost_usd is None


def test_local_models_are_free() -> None:
    """Models running on this machine cost zero per token."""
    assert price(response("local", "smollm2"), str(SHIPPED)) == 0.0


def test_malformed_table_is_a_config_error(tmp_path: Path) -> None:
    """A price without numbers is reported with where it is."""
    bad = tmp_path / "p.yaml"
    bad.write_text("openai:\n  m: {input: cheap}\n")
    with pytest.raises(ConfigError, match=r"openai\.m"):
        price(response("openai", "m"), str(bad))
