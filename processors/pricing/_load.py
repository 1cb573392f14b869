"""Read the pricing table (``models.yaml``) and deployment overrides into :class:`ModelPrice`s."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from datetime import date
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import orjson
import yaml

from lightkeeper.errors import ConfigError
from lightkeeper.processors.pricing._model import ZERO, LongContextTier, ModelPrice, PriceHistory, Rates

DEFAULT_TABLE = Path(__file__).with_name("models.yaml")

_PRICE_KEYS = {"in", "out", "cached", "cache_write", "reasoning"}
_MODEL_KEYS = _PRICE_KEYS | {"id", "provider", "since", "aliases", "long", "history", "kind"}


class _DecimalLoader(yaml.SafeLoader):
    """Reads YAML floats as exact Decimals (prices must not pass through binary floats)."""


def _decimal_float(loader: yaml.SafeLoader, node: yaml.Node) -> Decimal:
    return Decimal(str(loader.construct_scalar(node)))  # type: ignore[arg-type]


_DecimalLoader.add_constructor("tag:yaml.org,2002:float", _decimal_float)


def _price(value: Any, where: str) -> Decimal:
    if isinstance(value, bool) or value is None:
        raise ConfigError(f"pricing: {where}: expected a price, got {value!r}")
    try:
        out = Decimal(str(value))
    except InvalidOperation:
        raise ConfigError(f"pricing: {where}: {value!r} is not a number") from None
    if not out.is_finite() or out < ZERO:
        raise ConfigError(f"pricing: {where}: price must be a finite number >= 0, got {value!r}")
    return out


def _date(value: Any, where: str) -> date | None:
    if value is None or isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        raise ConfigError(f"pricing: {where}: {value!r} is not an ISO date (YYYY-MM-DD)") from None


def rates_from(spec: Mapping[str, Any], where: str, base: Rates | None = None) -> Rates:
    """Rates from ``{in, out, cached, cache_write, reasoning}``; missing keys fall back to
    ``base`` (an override changing one price) or to the input/output price."""
    unknown = set(spec) - _PRICE_KEYS - {"above", "until"}
    if unknown:
        raise ConfigError(f"pricing: {where}: unknown price keys {sorted(unknown)}")
    if base is None and ("in" not in spec or "out" not in spec):
        raise ConfigError(f"pricing: {where}: needs both 'in' and 'out' prices")
    inp = _price(spec["in"], f"{where}.in") if "in" in spec else base.input  # type: ignore[union-attr]
    out = _price(spec["out"], f"{where}.out") if "out" in spec else base.output  # type: ignore[union-attr]

    def pick(key: str, fallback: Decimal, inherited: Decimal | None) -> Decimal:
        if key in spec:
            return _price(spec[key], f"{where}.{key}")
        return inherited if inherited is not None else fallback

    return Rates(
        input=inp,
        output=out,
        cached_input=pick("cached", inp, base.cached_input if base else None),
        cache_write=pick("cache_write", inp, base.cache_write if base else None),
        reasoning=pick("reasoning", out, base.reasoning if base else None),
    )


def model_from(
    spec: Mapping[str, Any], provider: str, conv: Mapping[str, Any], *, custom: bool
) -> ModelPrice:
    """One :class:`ModelPrice` from a model entry of the table or of the settings."""
    if not isinstance(spec, Mapping) or not spec.get("id"):
        raise ConfigError(f"pricing: provider {provider}: every model needs an 'id' (got {spec!r})")
    model_id = str(spec["id"])
    where = f"{provider}/{model_id}"
    unknown = set(spec) - _MODEL_KEYS
    if unknown:
        raise ConfigError(f"pricing: {where}: unknown keys {sorted(unknown)}")
    rates = rates_from({k: v for k, v in spec.items() if k in _PRICE_KEYS}, where)
    long = spec.get("long")
    tier = None
    if long is not None:
        if not isinstance(long, Mapping) or "above" not in long:
            raise ConfigError(f"pricing: {where}.long: needs 'above' (input tokens) and prices")
        tier = LongContextTier(int(long["above"]), rates_from(long, f"{where}.long", base=rates))
    history = tuple(
        PriceHistory(_date(h.get("until"), f"{where}.history") or date.min, rates_from(h, f"{where}.history"))
        for h in spec.get("history") or ()
    )
    aliases = tuple(str(a) for a in spec.get("aliases") or ())
    return ModelPrice(
        provider=provider,
        model_id=model_id,
        rates=rates,
        since=_date(spec.get("since"), f"{where}.since"),
        aliases=aliases,
        long_context=tier,
        history=history,
        kind=str(spec.get("kind", "chat")),
        input_includes_cache_read=bool(conv.get("input_includes_cache_read", True)),
        output_includes_reasoning=bool(conv.get("output_includes_reasoning", True)),
        source=str(conv.get("source", "")),
        custom=custom,
        names=(model_id, *aliases),
    )


def read_table(path: Path | None = None) -> tuple[str, dict[str, dict[str, Any]], list[ModelPrice]]:
    """(version, provider conventions, models) from a table file."""
    path = path or DEFAULT_TABLE
    try:
        data = yaml.load(path.read_text(), Loader=_DecimalLoader)  # noqa: S506 - SafeLoader subclass
    except FileNotFoundError:
        raise ConfigError(f"pricing table not found: {path}") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"pricing table {path} is not valid YAML: {exc}") from None
    if not isinstance(data, dict) or not isinstance(data.get("providers"), dict) or not data.get("version"):
        raise ConfigError(f"pricing table {path} needs 'version' and a 'providers' mapping")
    providers: dict[str, dict[str, Any]] = {}
    models: list[ModelPrice] = []
    for name, spec in data["providers"].items():
        conv = {k: v for k, v in spec.items() if k != "models"}
        providers[str(name)] = conv
        models.extend(model_from(m, str(name), conv, custom=False) for m in spec.get("models") or ())
    return str(data["version"]), providers, models


def overrides_digest(parts: Iterable[Any]) -> str:
    """Short stable digest of the deployment's pricing configuration (goes into the version)."""
    blob = orjson.dumps(list(parts), default=str, option=orjson.OPT_SORT_KEYS)
    return hashlib.sha256(blob).hexdigest()[:8]
