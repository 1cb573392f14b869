"""Enrichment of captured events: token counts where the provider reported none (marked
estimated) and cost in USD from the pricing table.

An event whose model has no price gets cost NULL and ``cost_unknown_model = 1`` — never 0.
A known model whose call reported no usage and carried no text to estimate from also gets
cost NULL (unknown), except failed calls without usage, which providers do not bill (0).

A call the provider did not serve (HTTP status >= 400: 429 rate limits, 5xx, the agent's own
502/504) gets no token estimate: its prompt was never processed, so it costs 0 unless the
provider reported usage anyway (then that usage is charged). A call cut off after a 200 (a
broken stream) was served in part and is estimated as usual.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from lightkeeper.processors.pricing import PricingTable, TokenCounts, compute_cost, default_pricing
from lightkeeper.schemas.events import LLMCallEvent
from lightkeeper.schemas.rows import usd
from lightkeeper.text.tokens import estimate_usage

ZERO = Decimal(0)


@dataclass(slots=True)
class Enrichment:
    """What enrichment adds to one event's row (the ``events`` cost columns)."""

    cost_usd: Decimal | None
    cost_input_usd: Decimal | None
    cost_output_usd: Decimal | None
    cost_cached_input_usd: Decimal | None
    cost_reasoning_usd: Decimal | None
    pricing_version: str
    cost_unknown_model: bool
    priced_as: str | None = None
    """``provider/model_id`` of the price entry used (None when unknown)."""

    def columns(self) -> dict[str, Any]:
        """Keyword arguments for :func:`lightkeeper.schemas.rows.event_row`."""
        return {
            "cost_usd": self.cost_usd,
            "cost_input_usd": self.cost_input_usd,
            "cost_output_usd": self.cost_output_usd,
            "cost_cached_input_usd": self.cost_cached_input_usd,
            "cost_reasoning_usd": self.cost_reasoning_usd,
            "pricing_version": self.pricing_version,
            "cost_unknown_model": self.cost_unknown_model,
        }

    def row_columns(self) -> dict[str, Any]:
        """The checked ``events`` cost columns: ``enrichment_columns(**self.columns())``
        without the keyword round trip (the worker's per-event path)."""
        return {
            "cost_usd": usd(self.cost_usd),
            "cost_input_usd": usd(self.cost_input_usd),
            "cost_output_usd": usd(self.cost_output_usd),
            "cost_cached_input_usd": usd(self.cost_cached_input_usd),
            "cost_reasoning_usd": usd(self.cost_reasoning_usd),
            "pricing_version": str(self.pricing_version or ""),
            "cost_unknown_model": int(bool(self.cost_unknown_model)),
        }


def served(http_status: int | None) -> bool:
    """False when the provider (or the agent in its place) answered with an error status: the
    call was refused or failed before any model work, and is not billed."""
    return http_status is None or http_status < 400


def fill_token_estimates(ev: LLMCallEvent) -> bool:
    """Fill missing input/output token counts from the captured text
    (:func:`lightkeeper.text.tokens.estimate_usage`); marks the usage ``estimated``. Returns True
    when something was estimated. Nothing is invented when the body was not captured (no
    text), nor for a call the provider did not serve: counts stay None."""
    usage = ev.usage
    if not served(ev.http_status):
        return False
    estimated_in, estimated_out = estimate_usage(
        [m.content for m in ev.input_messages],
        ev.output.text,
        [(c.name, c.arguments) for c in ev.output.tool_calls],
    )
    return _fill(usage, estimated_in, estimated_out)


def _fill(usage: Any, estimated_in: int | None, estimated_out: int | None) -> bool:
    changed = False
    if usage.input_tokens is None and estimated_in is not None:
        usage.input_tokens = estimated_in
        changed = True
    if usage.output_tokens is None and estimated_out is not None:
        usage.output_tokens = estimated_out
        changed = True
    if changed:
        usage.estimated = True
    return changed


def _fill_row_estimates(
    usage: dict[str, Any], messages: list[dict[str, Any]], text: str, calls: list[dict[str, Any]]
) -> bool:
    """:func:`fill_token_estimates` for an event decoded by :mod:`lightkeeper.schemas._fastdecode`:
    fills ``usage`` from the checked ``messages``, output ``text`` and tool ``calls``; returns
    True when something was estimated."""
    estimated_in, estimated_out = estimate_usage(
        [m.get("content") for m in messages], text, [(c["name"], c.get("arguments")) for c in calls]
    )
    changed = False
    if usage["input_tokens"] is None and estimated_in is not None:
        usage["input_tokens"] = estimated_in
        changed = True
    if usage["output_tokens"] is None and estimated_out is not None:
        usage["output_tokens"] = estimated_out
        changed = True
    if changed:
        usage["estimated"] = True
    return changed


class Enricher:
    """Enriches events in place (token estimates) and returns their cost columns."""

    def __init__(self, pricing: PricingTable | None = None, *, estimate: bool = True) -> None:
        self.pricing = pricing or default_pricing()
        self.estimate = estimate

    def enrich(self, ev: LLMCallEvent) -> Enrichment:
        """Token estimates (in place) and the cost of one event."""
        if self.estimate:
            fill_token_estimates(ev)
        usage = ev.usage
        return self.cost_of(
            ev.response_model,
            ev.request_model,
            ev.provider_name,
            (
                usage.input_tokens,
                usage.output_tokens,
                usage.cache_read_input_tokens,
                usage.cache_creation_input_tokens,
                usage.reasoning_output_tokens,
            ),
            ev.is_error,
            ev.start_time,
        )

    def enrich_row(
        self,
        row: dict[str, Any],
        usage: dict[str, Any],
        messages: list[dict[str, Any]],
        calls: list[dict[str, Any]],
    ) -> Enrichment:
        """:meth:`enrich` for an event decoded by :func:`lightkeeper.schemas._fastdecode.decode_row`
        (its row, usage, input messages and output tool calls): token estimates are written
        into ``usage`` and the row's token columns; returns the cost of the event (the caller
        adds :meth:`Enrichment.row_columns` to the row)."""
        if (
            self.estimate
            and (usage["input_tokens"] is None or usage["output_tokens"] is None)
            and served(row["http_status"])
            and _fill_row_estimates(usage, messages, row["output_text"], calls)
        ):
            row["input_tokens"] = usage["input_tokens"]
            row["output_tokens"] = usage["output_tokens"]
            row["tokens_estimated"] = 1
        return self.cost_of(
            row["response_model"] or None,
            row["request_model"] or None,
            row["provider_name"],
            (
                usage["input_tokens"],
                usage["output_tokens"],
                usage["cache_read_input_tokens"],
                usage["cache_creation_input_tokens"],
                usage["reasoning_output_tokens"],
            ),
            row["is_error"] == 1,
            row["start_time"],
        )

    def cost_of(
        self,
        response_model: str | None,
        request_model: str | None,
        provider: str,
        tokens: tuple[int | None, int | None, int | None, int | None, int | None],
        is_error: bool,
        start_time: datetime,
    ) -> Enrichment:
        """The cost columns of a call; ``tokens`` = (input, output, cache read, cache write,
        reasoning)."""
        price = self.pricing.lookup(response_model, provider) or self.pricing.lookup(request_model, provider)
        version = self.pricing.version
        if price is None:
            return Enrichment(None, None, None, None, None, version, True)
        priced_as = f"{price.provider}/{price.model_id}"
        inp, out, cache_read, cache_write, reasoning = tokens
        if inp is None and out is None:
            if is_error:
                return Enrichment(ZERO, ZERO, ZERO, ZERO, ZERO, version, False, priced_as)
            return Enrichment(None, None, None, None, None, version, False, priced_as)
        cost = compute_cost(
            price,
            TokenCounts(
                input=inp, output=out, cache_read=cache_read, cache_write=cache_write, reasoning=reasoning
            ),
            start_time.date(),
        )
        return Enrichment(
            cost.total, cost.input, cost.output, cost.cached_input, cost.reasoning, version, False, priced_as
        )

    def enrich_batch(self, events: Sequence[LLMCallEvent]) -> list[Enrichment]:
        return [self.enrich(ev) for ev in events]
