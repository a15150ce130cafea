"""Token prices: what a model call cost, from an editable YAML table.

An unknown model's cost is None ("unknown"), never zero, so a report never understates
what a supervisor costs. The table ships as `supervisor/prices.yaml`; `SUPERVISOR_PRICES`
(read in settings) points at a replacement.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path

import yaml

from supervisor.errors import ConfigError
from supervisor.providers import ChatResponse

SHIPPED = Path(__file__).with_name("prices.yaml")
SNAPSHOT = re.compile(r"\d{4}-?\d{2}-?\d{2}")


@lru_cache(maxsize=8)
def load_prices(path: str = str(SHIPPED)) -> Mapping[str, Mapping[str, tuple[float, float]]]:
    """provider -> model -> (USD per million input tokens, per million output tokens)."""
    try:
        raw = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"price table {path} cannot be read: {exc}") from None
    table: dict[str, dict[str, tuple[float, float]]] = {}
    for provider, models in raw.items():
        for model, entry in (models or {}).items():
            try:
                table.setdefault(str(provider), {})[str(model)] = (
                    float(entry["input"]), float(entry["output"]))
            except (TypeError, KeyError, ValueError):
                raise ConfigError(f"price table {path}: {provider}.{model} needs numeric "
                                  "'input' and 'output' (USD per million tokens)") from None
    return table


def price(response: ChatResponse, table_path: str | None = None) -> float | None:
    """The USD cost of one call, or None when the table does not know the model."""
    if table_path is None:
        from supervisor.settings import current

        table_path = current().prices
    models = load_prices(table_path).get(response.provider, {})
    rates = models.get(response.model) or _dated(models, response.model) or models.get("*")
    if rates is None:
        return None
    return (response.input_tokens * rates[0] + response.output_tokens * rates[1]) / 1e6


def _dated(models: Mapping[str, tuple[float, float]], model: str) -> tuple[float, float] | None:
    """The rates of the table entry that `model` is a dated snapshot of.

    Vendors answer with the snapshot they served (`gpt-4o-mini-2024-07-18`,
    `claude-haiku-4-5-20251001`) when asked for an alias; the alias's price applies. Only
    a date suffix counts: `gpt-4o-minimal` is not a snapshot of `gpt-4o`.
    """
    for name, rates in models.items():
        if model.startswith(name + "-") and SNAPSHOT.fullmatch(model[len(name) + 1:]):
            return rates
    return None
