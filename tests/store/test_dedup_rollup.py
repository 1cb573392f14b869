"""Redelivered events never double count: events_dedup and the minute rollups."""

from __future__ import annotations

from decimal import Decimal

import pytest
from _store_events import BASE, make_event

from lightkeeper.schemas.rows import event_row
from lightkeeper.store.writer import BatchWriter


def _events():
    evs = []
    for minute in range(3):
        for i in range(40):
            evs.append(make_event(i, minute=minute, error=(i % 10 == 0)))
        for i in range(15):
            evs.append(make_event(i, app="search", model="claude-x", minute=minute))
    return evs


def _cost(ev) -> Decimal:
    return Decimal(ev.usage.input_tokens) * Decimal("0.000002500") + Decimal(
        ev.usage.output_tokens
    ) * Decimal("0.000010000")


def _expected(evs):
    out: dict[tuple, dict] = {}
    for ev in evs:
        key = (ev.start_time.replace(second=0, microsecond=0).replace(tzinfo=None), ev.app, ev.model)
        agg = out.setdefault(
            key,
            {
                "requests": 0,
                "errors": 0,
                "input_tokens": 0,
                "output_tokens": 0,
                "cache_read_input_tokens": 0,
                "cost_usd": Decimal(0),
            },
        )
        agg["requests"] += 1
        agg["errors"] += int(ev.is_error)
        agg["input_tokens"] += ev.usage.input_tokens
        agg["output_tokens"] += ev.usage.output_tokens
        agg["cache_read_input_tokens"] += ev.usage.cache_read_input_tokens
        agg["cost_usd"] += _cost(ev)
    return out


def _rollup(client, db):
    rows = client.query(
        f"SELECT minute, app, model, requests, errors, input_tokens, output_tokens, cache_read_input_tokens, "
        f"cost_usd, deliveries, latency_ms_q FROM {db}.rollup_minute_v ORDER BY minute, app"
    ).named_results()
    return {(r["minute"].replace(tzinfo=None), r["app"], r["model"]): r for r in rows}


def _write(client, db, evs, batch_rows=50):
    writer = BatchWriter(client, "events", database=db, batch_rows=batch_rows, flush_interval_s=60)
    writer.add([event_row(ev, cost_usd=_cost(ev), pricing_version="t") for ev in evs])
    writer.flush()


def test_rollups_are_exact_and_survive_redelivery(store_client, store_database):
    evs = _events()
    expected = _expected(evs)
    _write(store_client, store_database, evs)
    first = _rollup(store_client, store_database)
    assert set(first) == set(expected)
    for key, exp in expected.items():
        for metric, value in exp.items():
            assert first[key][metric] == value, (key, metric)

    # redeliver: everything again in other batch boundaries, then a partial replay
    _write(store_client, store_database, evs, batch_rows=33)
    _write(store_client, store_database, evs[10:70], batch_rows=7)
    again = _rollup(store_client, store_database)
    for key, exp in expected.items():
        for metric, value in exp.items():
            assert again[key][metric] == value, (key, metric)
    total_deliveries = sum(r["deliveries"] for r in again.values())
    assert total_deliveries == 2 * len(evs) + 60  # raw copies stay visible

    # the analysts' view never double counts, before or after merges
    count = "SELECT count(), sum(input_tokens), sum(cost_usd) FROM {db}.events_dedup"
    exp_totals = (len(evs), sum(e.usage.input_tokens for e in evs), sum(_cost(e) for e in evs))
    assert tuple(store_client.query(count.format(db=store_database)).result_rows[0]) == exp_totals
    raw = store_client.query(f"SELECT count() FROM {store_database}.events").result_rows[0][0]
    assert len(evs) <= raw <= 2 * len(evs) + 60  # background merges may have collapsed copies
    store_client.command(f"OPTIMIZE TABLE {store_database}.events FINAL")
    store_client.command(f"OPTIMIZE TABLE {store_database}.rollup_minute FINAL")
    assert tuple(store_client.query(count.format(db=store_database)).result_rows[0]) == exp_totals
    merged = store_client.query(f"SELECT count() FROM {store_database}.events").result_rows[0][0]
    assert merged == len(evs)
    assert _rollup(store_client, store_database).keys() == expected.keys()


def test_latency_quantiles(store_client, store_database):
    evs = [make_event(i) for i in range(40)]  # duration 100 + 10 i ms, one minute
    _write(store_client, store_database, evs)
    (row,) = _rollup(store_client, store_database).values()
    p50, p90, p95, p99 = row["latency_ms_q"]
    assert p50 == pytest.approx(295, abs=10)
    assert p90 == pytest.approx(451, abs=10)
    assert p50 < p90 <= p95 <= p99 <= 490


def test_hourly_rollup_from_minutes(store_client, store_database):
    evs = _events()
    _write(store_client, store_database, evs)
    rows = store_client.query(
        f"SELECT toStartOfHour(minute) AS h, app, uniqExactMerge(requests) AS n, "
        f"quantilesMerge(0.5, 0.9, 0.95, 0.99)(latency_ms) AS q "
        f"FROM {store_database}.rollup_minute GROUP BY h, app ORDER BY app"
    ).result_rows
    assert [(r[0].replace(tzinfo=None), r[1], r[2]) for r in rows] == [
        (BASE.replace(tzinfo=None), "chat", 120),
        (BASE.replace(tzinfo=None), "search", 45),
    ]
