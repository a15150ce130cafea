"""Token prices: what a model call cost, from an editable YAML table.

An unknown model's cost is None ("unknown"), never zero, so a report never understates
what a supervisor costs. The table ships as `supervisor/prices.yaml`; `SUPERVISOR_PRICES`
(read in settings) points at a replacement.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path

import yaml

from supervisor.errors import ConfigError
from supervisor.providers import ChatResponse

SHIPPED = Path(__file__).with_name("prices.yaml")


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
    rates = models.get(response.model) or models.get("*")
    if rates is None:
        return None
    return (response.input_tokens * rates[0] + response.output_tokens * rates[1]) / 1e6
