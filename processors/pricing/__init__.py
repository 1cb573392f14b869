"""LLM pricing: a maintained table of public list prices (``models.yaml``, >= 300 models),
model lookup (id, alias, normalized name, longest known prefix) and exact Decimal cost math.

Public surface::

    table = load_pricing(overrides=..., custom_models=..., aliases=...)   # or default_pricing()
    price = table.lookup("gpt-4o-2024-08-06", provider="openai")           # ModelPrice | None
    cost = compute_cost(price, TokenCounts(input=1200, output=300, cache_read=1024))
    cost.total  # Decimal USD

An unknown model has no price: callers store cost NULL and flag the row, never 0.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from lightkeeper.errors import ConfigError
from lightkeeper.processors.pricing._cost import Cost, TokenCounts, compute_cost, prompt_tokens
from lightkeeper.processors.pricing._load import (
    DEFAULT_TABLE,
    model_from,
    overrides_digest,
    rates_from,
    read_table,
)
from lightkeeper.processors.pricing._model import LongContextTier, ModelPrice, PriceHistory, Rates
from lightkeeper.processors.pricing._table import PricingTable

__all__ = [
    "DEFAULT_TABLE",
    "Cost",
    "LongContextTier",
    "ModelPrice",
    "PriceHistory",
    "PricingTable",
    "Rates",
    "TokenCounts",
    "compute_cost",
    "default_pricing",
    "load_pricing",
    "prompt_tokens",
]


def load_pricing(
    path: str | Path | None = None,
    *,
    overrides: Mapping[str, Mapping[str, Any]] | None = None,
    custom_models: Sequence[Mapping[str, Any]] | None = None,
    aliases: Mapping[str, str] | None = None,
) -> PricingTable:
    """The pricing table with the deployment's changes applied.

    - ``overrides``: ``{model id or alias: {in, out, cached, cache_write, reasoning}}``:
      negotiated prices; keys not given keep the table's price.
    - ``custom_models``: entries like the table's (``id``, ``provider``, ``in``, ``out``, ...)
      for fine-tunes and self-hosted models. They take precedence over the table.
    - ``aliases``: ``{deployment name: model id}`` (Azure deployments, gateway routes).

    Raises :class:`ConfigError` naming the bad entry.
    """
    version, providers, models = read_table(Path(path) if path else None)
    names = {p: p for p in providers}
    for key, conv in providers.items():
        for alias in conv.get("names") or ():
            names.setdefault(str(alias).lower(), key)
    changes: list[Any] = []
    custom: list[ModelPrice] = []
    for spec in custom_models or ():
        provider_name = str(spec.get("provider", "custom"))
        provider = names.get(provider_name.lower(), provider_name)
        conv = providers.get(provider, {"input_includes_cache_read": True, "output_includes_reasoning": True})
        conv = {
            **conv,
            **{k: spec[k] for k in ("input_includes_cache_read", "output_includes_reasoning") if k in spec},
        }
        entry = {
            k: v
            for k, v in spec.items()
            if k not in {"provider", "input_includes_cache_read", "output_includes_reasoning"}
        }
        custom.append(model_from(entry, provider, conv, custom=True))
        changes.append(["custom", dict(spec)])
    base = PricingTable(version, models, names)
    for model_name, spec in (overrides or {}).items():
        found = base.lookup(model_name)
        if found is None:
            raise ConfigError(f"pricing override: unknown model {model_name!r} (add it to custom_models)")
        new_rates = rates_from(spec, f"override {model_name}", base=found.rates)
        replaced = _replace(found, rates=new_rates)
        custom.append(replaced)
        changes.append(["override", model_name, dict(spec)])
    for alias, target in (aliases or {}).items():
        found = next((m for m in custom if target in m.names), None) or base.lookup(target)
        if found is None:
            raise ConfigError(f"pricing alias {alias!r}: unknown model {target!r}")
        custom.append(_replace(found, names=(alias,), aliases=(alias,)))
        changes.append(["alias", alias, target])
    if not changes:
        return base
    return PricingTable(f"{version}+{overrides_digest(changes)}", [*custom, *models], names)


def _replace(model: ModelPrice, **changes: Any) -> ModelPrice:
    import dataclasses

    return dataclasses.replace(model, custom=True, long_context=None, history=(), **changes)


@functools.lru_cache(maxsize=1)
def default_pricing() -> PricingTable:
    """The shipped table without deployment changes (cached per process)."""
    return load_pricing()
