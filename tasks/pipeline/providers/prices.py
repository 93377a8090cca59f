"""What model calls cost, from the price tables in settings (LLM_PRICES, IMAGE_PRICES)."""

from decimal import Decimal
from typing import Any

from django.conf import settings

_MILLION = Decimal(1_000_000)


def _prefix_match(model: str, table: dict[str, Any]) -> Any:
    """The entry for `model`: the longest key it equals or starts with followed by "-",
    so dated snapshots such as "gpt-4o-mini-2024-07-18" are priced like their family."""
    matches = [key for key in table if model == key or model.startswith(f"{key}-")]
    return table[max(matches, key=len)] if matches else None


def llm_cost(model: str, tokens_in: int, tokens_out: int) -> Decimal:
    """USD for a call's tokens; 0 for a model with no price (a local server's)."""
    prices = _prefix_match(model, settings.LLM_PRICES)
    if prices is None:
        return Decimal("0")
    cost = (prices[0] * tokens_in + prices[1] * tokens_out) / _MILLION
    return cost.quantize(Decimal("0.000001"))


def image_cost(model: str) -> Decimal:
    return _prefix_match(model, settings.IMAGE_PRICES) or Decimal("0")
