"""Price records: what one model costs, per 1M tokens, at a point in time."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

ZERO = Decimal(0)


@dataclass(frozen=True, slots=True)
class Rates:
    """USD per 1M tokens for each kind of token a provider bills."""

    input: Decimal
    output: Decimal
    cached_input: Decimal
    """Cache-read input tokens."""
    cache_write: Decimal
    """Cache-creation input tokens (Anthropic style prompt caching)."""
    reasoning: Decimal
    """Reasoning ("thinking") output tokens; equals ``output`` unless billed differently."""


@dataclass(frozen=True, slots=True)
class LongContextTier:
    """Whole-request rates once the prompt exceeds ``above`` input tokens (Gemini, Claude 1M)."""

    above: int
    rates: Rates


@dataclass(frozen=True, slots=True)
class PriceHistory:
    """Rates that applied to calls made before ``until``."""

    until: date
    rates: Rates


@dataclass(frozen=True, slots=True)
class ModelPrice:
    """One model of one provider (or host) with its current and past prices.

    ``input_includes_cache_read`` / ``output_includes_reasoning`` describe how the provider
    reports usage, which decides how cached and reasoning tokens are billed (see ``_cost``).
    """

    provider: str
    model_id: str
    rates: Rates
    since: date | None
    aliases: tuple[str, ...] = ()
    long_context: LongContextTier | None = None
    history: tuple[PriceHistory, ...] = ()
    kind: str = "chat"
    input_includes_cache_read: bool = True
    output_includes_reasoning: bool = True
    source: str = ""
    custom: bool = False
    """True when the entry comes from deployment configuration (override or custom model)."""
    names: tuple[str, ...] = field(default=())
    """Every id the entry answers to: ``model_id`` then the aliases."""

    def rates_at(self, when: date | None, prompt_tokens: int = 0) -> Rates:
        """The rates for a call made on ``when`` whose prompt held ``prompt_tokens`` tokens."""
        if when is not None and self.since is not None and when < self.since:
            for past in sorted(self.history, key=lambda h: h.until):
                if when < past.until:
                    return past.rates
        if self.long_context is not None and prompt_tokens > self.long_context.above:
            return self.long_context.rates
        return self.rates
