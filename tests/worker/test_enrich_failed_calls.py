"""A call the provider refused or failed (429, 500, 502...) was not served and is not billed:
no token estimate, cost 0 — on both enrichment paths (pydantic events and the worker's fast
decode). A served call without usage is still estimated and priced."""

from __future__ import annotations

from decimal import Decimal

import pytest

from lightkeeper.processors.enrich import Enricher
from lightkeeper.schemas._fastdecode import decode_row
from tests.worker.helpers import event, raw

PROMPT = [{"role": "user", "content": "Summarise the quarterly report in three bullet points. " * 20}]


def _failed(status: int, error_type: str) -> dict[str, object]:
    return {
        "http_status": status,
        "error_type": error_type,
        "usage": {},
        "input_messages": PROMPT,
        "output": {},
    }


@pytest.mark.parametrize(
    ("status", "error_type"),
    [
        (429, "rate_limit_exceeded"),
        (500, "server_error"),
        (502, "upstream_unreachable"),
        (504, "upstream_timeout"),
    ],
)
def test_a_call_the_provider_did_not_serve_costs_nothing(status: int, error_type: str) -> None:
    enricher = Enricher()
    ev = event(1, **_failed(status, error_type))
    enrichment = enricher.enrich(ev)
    assert enrichment.cost_usd == Decimal(0) and not enrichment.cost_unknown_model
    assert ev.usage.input_tokens is None and not ev.usage.estimated

    fast = decode_row(raw(1, **_failed(status, error_type)))
    assert fast is not None
    row, usage, messages, calls = fast
    enrichment = enricher.enrich_row(row, usage, messages, calls)
    assert enrichment.cost_usd == Decimal(0)
    assert row["input_tokens"] is None and row["tokens_estimated"] == 0


def test_a_served_call_without_usage_is_still_estimated_and_priced() -> None:
    enricher = Enricher()
    ev = event(2, usage={}, input_messages=PROMPT, output={"text": "Revenue up; costs flat; outlook raised."})
    enrichment = enricher.enrich(ev)
    assert ev.usage.estimated and (ev.usage.input_tokens or 0) > 0
    assert enrichment.cost_usd is not None and enrichment.cost_usd > 0


def test_a_failed_call_with_provider_usage_is_charged_what_the_provider_reported() -> None:
    ev = event(
        3, http_status=500, error_type="server_error", usage={"input_tokens": 1000, "output_tokens": 0}
    )
    enrichment = Enricher().enrich(ev)
    assert enrichment.cost_usd == Decimal("0.00015")  # gpt-4o-mini input: $0.15 per 1M tokens
