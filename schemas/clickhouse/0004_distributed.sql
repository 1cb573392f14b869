-- 0004: Distributed tables and views for the ClickHouse cluster variant (store.cluster set).
--
-- On a single node (embedded chdb or one server) the block below is dropped: this file renders to
-- no statement and is simply recorded as applied.
--
-- On a cluster, 0001-0003 create every table ON CLUSTER as a local Replicated*MergeTree table on
-- each node. The <table>_all tables below are Distributed tables over those local tables, and the
-- <view>_all views read through them, so a query sees every shard. Sharding keys keep every copy
-- of a record on ONE shard, so the ReplacingMergeTree dedup (FINAL, per shard) stays exact:
-- events and scores by event_id, drift by drift_id, anomalies by anomaly_id, alerts by alert_id.
-- rollup_minute is filled by the materialized view on the shard where the events land; merging
-- aggregate states across shards (rollup_minute_v_all) is exact because an event lives on one shard.
-- Writers insert into the *_all tables to spread rows over shards (or into the local tables when
-- the cluster has a single shard and only replicates).
-- tests/store/test_cluster_variant.py keeps this file in step with the single-node tables.

{cluster_only}
CREATE TABLE IF NOT EXISTS {database}.events_all {on_cluster} AS {database}.events
ENGINE = Distributed({cluster}, {database}, events, cityHash64(event_id));

CREATE TABLE IF NOT EXISTS {database}.scores_all {on_cluster} AS {database}.scores
ENGINE = Distributed({cluster}, {database}, scores, cityHash64(event_id));

CREATE TABLE IF NOT EXISTS {database}.drift_all {on_cluster} AS {database}.drift
ENGINE = Distributed({cluster}, {database}, drift, cityHash64(drift_id));

CREATE TABLE IF NOT EXISTS {database}.anomalies_all {on_cluster} AS {database}.anomalies
ENGINE = Distributed({cluster}, {database}, anomalies, cityHash64(anomaly_id));

CREATE TABLE IF NOT EXISTS {database}.alerts_all {on_cluster} AS {database}.alerts
ENGINE = Distributed({cluster}, {database}, alerts, cityHash64(alert_id));

CREATE TABLE IF NOT EXISTS {database}.rollup_minute_all {on_cluster} AS {database}.rollup_minute
ENGINE = Distributed({cluster}, {database}, rollup_minute, cityHash64(app, model, provider_name));

CREATE VIEW IF NOT EXISTS {database}.events_dedup_all {on_cluster} AS
SELECT * FROM {database}.events_all FINAL;

CREATE VIEW IF NOT EXISTS {database}.scores_dedup_all {on_cluster} AS
SELECT * FROM {database}.scores_all FINAL;

CREATE VIEW IF NOT EXISTS {database}.drift_dedup_all {on_cluster} AS
SELECT * FROM {database}.drift_all FINAL;

CREATE VIEW IF NOT EXISTS {database}.anomalies_dedup_all {on_cluster} AS
SELECT * FROM {database}.anomalies_all FINAL;

CREATE VIEW IF NOT EXISTS {database}.alerts_latest_all {on_cluster} AS
SELECT * FROM {database}.alerts_all FINAL;

CREATE VIEW IF NOT EXISTS {database}.rollup_minute_v_all {on_cluster} AS
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
FROM {database}.rollup_minute_all
GROUP BY minute, app, model, provider_name;
{end_cluster_only}
