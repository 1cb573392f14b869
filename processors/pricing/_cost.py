"""Cost arithmetic: exact Decimal USD from token counts and a :class:`ModelPrice`.

How cached and reasoning tokens are billed depends on how the provider reports usage:

* ``input_includes_cache_read`` (OpenAI, Azure OpenAI, Gemini, DeepSeek, xAI, most
  OpenAI-compatible hosts): ``input_tokens`` (``prompt_tokens``) already COUNTS the cached
  tokens. Billed: ``(input - cache_read - cache_write) * in + cache_read * cached +
  cache_write * cache_write``.
* otherwise (Anthropic, Claude on Bedrock/Vertex): ``input_tokens`` EXCLUDES cache reads and
  writes, which are reported separately. Billed: ``input * in + cache_read * cached +
  cache_write * cache_write``.
* ``output_includes_reasoning`` (OpenAI ``completion_tokens`` include reasoning tokens):
  ``(output - reasoning) * out + reasoning * reasoning``; otherwise (Gemini ``thoughts``
  reported beside ``candidates``): ``output * out + reasoning * reasoning``.

A prompt larger than a model's long-context threshold is billed entirely at the long rates.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from lightkeeper.processors.pricing._model import ZERO, ModelPrice

PER_TOKENS = Decimal(1_000_000)


@dataclass(frozen=True, slots=True)
class TokenCounts:
    """Token counts as the provider reported them (None = not reported, counted as 0)."""

    input: int | None = None
    output: int | None = None
    cache_read: int | None = None
    cache_write: int | None = None
    reasoning: int | None = None


@dataclass(frozen=True, slots=True)
class Cost:
    """USD cost of one call, split by what was billed. ``input`` includes cache reads and
    writes; ``output`` includes reasoning. ``total = input + output`` exactly."""

    total: Decimal
    input: Decimal
    output: Decimal
    cached_input: Decimal
    cache_write: Decimal
    reasoning: Decimal
    model_id: str
    provider: str


def _n(value: int | None) -> int:
    return max(int(value or 0), 0)


def prompt_tokens(price: ModelPrice, tokens: TokenCounts) -> int:
    """All prompt tokens of the call (uncached + cache reads + cache writes)."""
    if price.input_includes_cache_read:
        return max(_n(tokens.input), _n(tokens.cache_read) + _n(tokens.cache_write))
    return _n(tokens.input) + _n(tokens.cache_read) + _n(tokens.cache_write)


def compute_cost(price: ModelPrice, tokens: TokenCounts, when: date | None = None) -> Cost:
    """Exact cost of a call made on ``when`` (defaults to the current prices)."""
    rates = price.rates_at(when, prompt_tokens(price, tokens))
    cache_read = _n(tokens.cache_read)
    cache_write = _n(tokens.cache_write)
    if price.input_includes_cache_read:
        uncached = max(_n(tokens.input) - cache_read - cache_write, 0)
    else:
        uncached = _n(tokens.input)
    reasoning = _n(tokens.reasoning)
    if price.output_includes_reasoning:
        plain_output = max(_n(tokens.output) - reasoning, 0)
    else:
        plain_output = _n(tokens.output)

    cached_cost = cache_read * rates.cached_input / PER_TOKENS
    write_cost = cache_write * rates.cache_write / PER_TOKENS
    input_cost = uncached * rates.input / PER_TOKENS + cached_cost + write_cost
    reasoning_cost = reasoning * rates.reasoning / PER_TOKENS
    output_cost = plain_output * rates.output / PER_TOKENS + reasoning_cost
    return Cost(
        total=input_cost + output_cost,
        input=input_cost,
        output=output_cost,
        cached_input=cached_cost,
        cache_write=write_cost,
        reasoning=reasoning_cost,
        model_id=price.model_id,
        provider=price.provider,
    )


__all__ = ["PER_TOKENS", "ZERO", "Cost", "TokenCounts", "compute_cost", "prompt_tokens"]
