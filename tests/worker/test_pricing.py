"""The pricing table: coverage, lookup rules, exact cost math, overrides."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from lightkeeper.errors import ConfigError
from lightkeeper.processors.pricing import TokenCounts, compute_cost, default_pricing, load_pricing


def test_table_covers_at_least_300_distinct_models_of_the_major_providers() -> None:
    table = default_pricing()
    ids = {(m.provider, m.model_id) for m in table.models}
    assert len(ids) >= 300
    providers = {m.provider for m in table.models}
    for needed in (
        "openai",
        "anthropic",
        "gcp.gemini",
        "mistral_ai",
        "cohere",
        "deepseek",
        "x_ai",
        "aws.bedrock",
        "together",
        "fireworks",
        "groq",
    ):
        assert needed in providers
    assert table.version == "2026-11-01"
    for m in table.models:
        assert m.since is not None, m.model_id
        assert m.rates.input >= 0 and m.rates.output >= 0


@pytest.mark.parametrize(
    ("name", "provider", "expected"),
    [
        ("gpt-4o", "openai", "gpt-4o"),
        ("gpt-4o-2024-08-06", "openai", "gpt-4o"),  # alias (dated snapshot)
        ("GPT-4o-Mini", None, "gpt-4o-mini"),  # case
        ("openai/gpt-4o-mini", None, "gpt-4o-mini"),  # OpenRouter style
        ("gpt-35-turbo", "azure.ai.openai", "gpt-3.5-turbo"),  # Azure spelling
        (
            "anthropic.claude-3-5-sonnet-20240620-v1:0",
            "aws.bedrock",
            "anthropic.claude-3-5-sonnet-20240620-v1:0",
        ),
        (
            "us.anthropic.claude-3-5-sonnet-20240620-v1:0",
            "aws.bedrock",
            "anthropic.claude-3-5-sonnet-20240620-v1:0",
        ),
        ("claude-3-5-sonnet-v2@20241022", "gcp.vertex_ai", "claude-3-5-sonnet-20241022"),  # Vertex
        ("models/gemini-1.5-pro-002", None, "gemini-1.5-pro"),
        ("mistral-large-latest", "mistral", "mistral-large-2411"),
        ("gpt-4o-mini-2031-01-01", None, "gpt-4o-mini"),  # unknown snapshot: date suffix stripped
        ("gpt-4o-mini-my-deployment", None, "gpt-4o-mini"),  # longest known prefix
        ("meta-llama/Llama-3.3-70B-Instruct-Turbo", "together", "meta-llama/Llama-3.3-70B-Instruct-Turbo"),
        ("llama-3.3-70b-versatile", "groq", "llama-3.3-70b-versatile"),
    ],
)
def test_lookup(name: str, provider: str | None, expected: str) -> None:
    found = default_pricing().lookup(name, provider)
    assert found is not None, name
    assert found.model_id == expected


def test_same_model_on_two_hosts_prices_by_provider() -> None:
    table = default_pricing()
    groq = table.lookup("openai/gpt-oss-120b", "groq")
    together = table.lookup("openai/gpt-oss-120b", "together")
    assert groq is not None and together is not None
    assert (groq.provider, groq.rates.output) == ("groq", Decimal("0.75"))
    assert (together.provider, together.rates.output) == ("together", Decimal("0.60"))


@pytest.mark.parametrize("name", ["my-private-model", "ft:gpt-4o-mini:acme::abc123", "", "gpt"])
def test_unknown_models_are_not_guessed(name: str) -> None:
    assert default_pricing().lookup(name) is None


def test_openai_cached_tokens_are_part_of_prompt_tokens() -> None:
    price = default_pricing().lookup("gpt-4o", "openai")
    assert price is not None
    cost = compute_cost(price, TokenCounts(input=1200, output=300, cache_read=1024))
    # 176 uncached * 2.50 + 1024 cached * 1.25 + 300 * 10.00, per 1M tokens
    assert cost.input == Decimal("0.00172")
    assert cost.cached_input == Decimal("0.00128")
    assert cost.output == Decimal("0.003")
    assert cost.total == Decimal("0.00472")


def test_anthropic_cache_reads_and_writes_are_billed_on_top_of_input() -> None:
    price = default_pricing().lookup("claude-3-5-sonnet-20241022", "anthropic")
    assert price is not None
    cost = compute_cost(price, TokenCounts(input=100, output=300, cache_read=1000, cache_write=2000))
    # 100 * 3.00 + 1000 * 0.30 + 2000 * 3.75 (input) ; 300 * 15.00 (output)
    assert cost.input == Decimal("0.0081")
    assert cost.output == Decimal("0.0045")
    assert cost.total == Decimal("0.0126")


def test_reasoning_tokens_inside_output_and_beside_output() -> None:
    table = default_pricing()
    o3 = table.lookup("o3-mini")
    assert o3 is not None  # OpenAI: completion_tokens include reasoning, same price
    assert compute_cost(o3, TokenCounts(input=1000, output=5000, reasoning=4000)).total == Decimal("0.0231")
    flash = table.lookup("gemini-2.5-flash-preview-05-20")
    assert flash is not None  # Gemini preview: thoughts billed apart, at 3.50
    cost = compute_cost(flash, TokenCounts(input=1000, output=100, reasoning=1000))
    assert cost.reasoning == Decimal("0.0035")
    assert cost.total == Decimal("0.00015") + Decimal("0.00006") + Decimal("0.0035")


def test_long_context_tier_and_dated_history() -> None:
    table = default_pricing()
    pro = table.lookup("gemini-2.5-pro")
    assert pro is not None
    short = compute_cost(pro, TokenCounts(input=200_000, output=1000))
    long = compute_cost(pro, TokenCounts(input=200_001, output=1000))
    assert short.total == Decimal("0.25") + Decimal("0.01")
    assert long.total == Decimal("200001") * Decimal("2.50") / 1_000_000 + Decimal("0.015")
    o3 = table.lookup("o3")
    assert o3 is not None
    before = compute_cost(o3, TokenCounts(input=1_000_000, output=0), date(2025, 5, 1))
    after = compute_cost(o3, TokenCounts(input=1_000_000, output=0), date(2025, 7, 1))
    assert (before.total, after.total) == (Decimal("10.00"), Decimal("2.00"))


def test_overrides_custom_models_and_aliases_change_the_version() -> None:
    table = load_pricing(
        overrides={"gpt-4o": {"in": "2.00", "out": "8.00"}},
        custom_models=[
            {"id": "ft:gpt-4o-mini:acme::x1", "provider": "openai", "in": 0.30, "out": 1.20, "cached": 0.15}
        ],
        aliases={"prod-chat": "gpt-4o"},
    )
    assert table.version.startswith("2026-11-01+") and len(table.version) == len("2026-11-01+") + 8
    over = table.lookup("gpt-4o-2024-08-06", "openai")
    assert over is not None and over.custom
    assert (over.rates.input, over.rates.output, over.rates.cached_input) == (
        Decimal("2.00"),
        Decimal("8.00"),
        Decimal("1.25"),
    )
    ft = table.lookup("ft:gpt-4o-mini:acme::x1", "openai")
    assert ft is not None and ft.rates.output == Decimal("1.20")
    alias = table.lookup("prod-chat", "azure")
    assert alias is not None and alias.rates.input == Decimal("2.00")
    assert default_pricing().lookup("gpt-4o").rates.input == Decimal("2.50")  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"overrides": {"no-such-model-xyz": {"in": 1, "out": 1}}}, "unknown model"),
        ({"overrides": {"gpt-4o": {"in": -1}}}, "price must be"),
        ({"overrides": {"gpt-4o": {"input": 1}}}, "unknown price keys"),
        ({"custom_models": [{"id": "x", "in": "abc", "out": 1}]}, "is not a number"),
        ({"custom_models": [{"in": 1, "out": 1}]}, "needs an 'id'"),
        ({"aliases": {"a": "nope-nope"}}, "unknown model"),
    ],
)
def test_bad_pricing_configuration_names_the_problem(kwargs: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_pricing(**kwargs)
