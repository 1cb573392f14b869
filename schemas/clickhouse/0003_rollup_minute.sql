-- 0003: minute rollups per (app, model, provider) for dashboards and alert rules.
--
-- A materialized view sees every inserted block, including redelivered copies of events that
-- the events table later collapses. The rollup stays exact under redelivery like this:
--   requests, errors, cost_unknown   uniqExact(If) over event_id: a copy adds nothing.
--   token and cost sums              sumDistinct over a tagged value
--                                        (amount << 96) + cityHash64(event_id)
--                                    so each event contributes once; the view shifts the tag away
--                                    (exact for fewer than 2^32 events per bucket, and as long as a
--                                    redelivered copy carries the same amounts).
--   deliveries                       plain row count, copies included (shows redelivery volume).
--   latency / TTFT quantiles         quantilesState: approximate by nature; a redelivered copy adds
--                                    weight to its value (not exact under redelivery).
-- Cost is summed in nano-USD integers, so there is no float rounding.

CREATE TABLE IF NOT EXISTS {database}.rollup_minute {on_cluster}
(
    minute DateTime('UTC'),
    app LowCardinality(String),
    model LowCardinality(String),
    provider_name LowCardinality(String),
    requests AggregateFunction(uniqExact, String),
    errors AggregateFunction(uniqExactIf, String, UInt8),
    cost_unknown AggregateFunction(uniqExactIf, String, UInt8),
    deliveries SimpleAggregateFunction(sum, UInt64),
    input_tokens AggregateFunction(sumDistinct, UInt256),
    output_tokens AggregateFunction(sumDistinct, UInt256),
    cache_read_input_tokens AggregateFunction(sumDistinct, UInt256),
    reasoning_output_tokens AggregateFunction(sumDistinct, UInt256),
    cost_nusd AggregateFunction(sumDistinct, UInt256),
    latency_ms AggregateFunction(quantiles(0.5, 0.9, 0.95, 0.99), Float64),
    ttft_ms AggregateFunction(quantiles(0.5, 0.9, 0.95, 0.99), Float64)
)
ENGINE = {replicated}AggregatingMergeTree
PARTITION BY toYYYYMM(minute)
ORDER BY (app, model, provider_name, minute)
{ttl_derived:minute};

CREATE MATERIALIZED VIEW IF NOT EXISTS {database}.rollup_minute_mv {on_cluster}
TO {database}.rollup_minute AS
SELECT
    toStartOfMinute(start_time) AS minute,
    app,
    model,
    provider_name,
    uniqExactState(event_id) AS requests,
    uniqExactIfState(event_id, is_error) AS errors,
    uniqExactIfState(event_id, cost_unknown_model) AS cost_unknown,
    toUInt64(count()) AS deliveries,
    sumDistinctState(bitShiftLeft(toUInt256(ifNull(input_tokens, 0)), 96)
        + toUInt256(cityHash64(event_id))) AS input_tokens,
    sumDistinctState(bitShiftLeft(toUInt256(ifNull(output_tokens, 0)), 96)
        + toUInt256(cityHash64(event_id))) AS output_tokens,
    sumDistinctState(bitShiftLeft(toUInt256(ifNull(cache_read_input_tokens, 0)), 96)
        + toUInt256(cityHash64(event_id))) AS cache_read_input_tokens,
    sumDistinctState(bitShiftLeft(toUInt256(ifNull(reasoning_output_tokens, 0)), 96)
        + toUInt256(cityHash64(event_id))) AS reasoning_output_tokens,
    sumDistinctState(bitShiftLeft(toUInt256(toDecimal128(ifNull(cost_usd, 0), 9) * 1000000000), 96)
        + toUInt256(cityHash64(event_id))) AS cost_nusd,
    quantilesStateIf(0.5, 0.9, 0.95, 0.99)(ifNull(duration_ms, 0), isNotNull(duration_ms)) AS latency_ms,
    quantilesStateIf(0.5, 0.9, 0.95, 0.99)(ifNull(time_to_first_token_ms, 0),
        isNotNull(time_to_first_token_ms)) AS ttft_ms
FROM {database}.events
GROUP BY minute, app, model, provider_name;

-- Finalized per-minute figures. To roll up coarser (hour, day), sum requests/errors/tokens/cost
-- from this view (an event lives in exactly one minute), but merge quantiles from rollup_minute:
--   SELECT toStartOfHour(minute) h, quantilesMerge(0.5, 0.9, 0.95, 0.99)(latency_ms)
--   FROM rollup_minute GROUP BY h
CREATE VIEW IF NOT EXISTS {database}.rollup_minute_v {on_cluster} AS
SELECT
    minute,
    app,
    model,
    provider_name,
    uniqExactMerge(requests) AS requests,
    uniqExactIfMerge(errors) AS errors,
    uniqExactIfMerge(cost_unknown) AS cost_unknown,
    sum(deliveries) AS deliveries,
    toUInt64(bitShiftRight(sumDistinctMerge(input_tokens), 96)) AS input_tokens,
    toUInt64(bitShiftRight(sumDistinctMerge(output_tokens), 96)) AS output_tokens,
    toUInt64(bitShiftRight(sumDistinctMerge(cache_read_input_tokens), 96)) AS cache_read_input_tokens,
    toUInt64(bitShiftRight(sumDistinctMerge(reasoning_output_tokens), 96)) AS reasoning_output_tokens,
    toDecimal128(bitShiftRight(sumDistinctMerge(cost_nusd), 96), 0) * toDecimal128('0.000000001', 9)
        AS cost_usd,
    quantilesMerge(0.5, 0.9, 0.95, 0.99)(latency_ms) AS latency_ms_q,
    quantilesMerge(0.5, 0.9, 0.95, 0.99)(ttft_ms) AS ttft_ms_q
FROM {database}.rollup_minute
GROUP BY minute, app, model, provider_name;
