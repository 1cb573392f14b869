-- 0002: derived records: detector scores, drift results, anomalies, alerts.
-- Every table is a ReplacingMergeTree whose sorting key ends with the record's identity, so
-- redelivered records collapse; the *_dedup / alerts_latest views read with FINAL.

CREATE TABLE IF NOT EXISTS {database}.scores {on_cluster}
(
    event_id String,
    detector LowCardinality(String),
    score Nullable(Float32) COMMENT 'NULL when the detector does not apply',
    flagged UInt8,
    threshold Nullable(Float32),
    details String CODEC(ZSTD(3)) COMMENT 'JSON object',
    model_version LowCardinality(String),
    app LowCardinality(String),
    environment LowCardinality(String),
    request_model LowCardinality(String),
    event_time DateTime64(3, 'UTC'),
    scored_at DateTime64(3, 'UTC'),
    ingested_at DateTime64(3, 'UTC') DEFAULT now64(3),

    INDEX idx_event_id event_id TYPE bloom_filter(0.01) GRANULARITY 4
)
ENGINE = {replicated}ReplacingMergeTree(scored_at)
PARTITION BY toYYYYMM(event_time)
ORDER BY (app, detector, toStartOfHour(event_time), event_id)
{ttl_derived:event_time};

CREATE VIEW IF NOT EXISTS {database}.scores_dedup {on_cluster} AS
SELECT * FROM {database}.scores FINAL;

CREATE TABLE IF NOT EXISTS {database}.drift {on_cluster}
(
    drift_id String,
    app LowCardinality(String),
    model LowCardinality(String),
    key LowCardinality(String),
    target LowCardinality(String),
    method LowCardinality(String),
    score Float64,
    threshold Float64,
    p_value Nullable(Float64),
    drifted UInt8,
    reference_start DateTime64(3, 'UTC'),
    reference_end DateTime64(3, 'UTC'),
    reference_size UInt32,
    current_start DateTime64(3, 'UTC'),
    current_end DateTime64(3, 'UTC'),
    current_size UInt32,
    top_features Array(String),
    examples Array(String) CODEC(ZSTD(3)),
    report_path String,
    detected_at DateTime64(3, 'UTC'),
    ingested_at DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = {replicated}ReplacingMergeTree(ingested_at)
PARTITION BY toYYYYMM(detected_at)
ORDER BY (app, model, target, key, toStartOfDay(detected_at), drift_id)
{ttl_derived:detected_at};

CREATE VIEW IF NOT EXISTS {database}.drift_dedup {on_cluster} AS
SELECT * FROM {database}.drift FINAL;

CREATE TABLE IF NOT EXISTS {database}.anomalies {on_cluster}
(
    anomaly_id String,
    app LowCardinality(String),
    model LowCardinality(String),
    user_id String,
    metric LowCardinality(String),
    window_start DateTime64(3, 'UTC'),
    expected Nullable(Float64),
    actual Float64,
    score Float64,
    severity LowCardinality(String),
    detector LowCardinality(String),
    details String CODEC(ZSTD(3)) COMMENT 'JSON object',
    detected_at DateTime64(3, 'UTC'),
    ingested_at DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = {replicated}ReplacingMergeTree(ingested_at)
PARTITION BY toYYYYMM(window_start)
ORDER BY (app, metric, toStartOfDay(window_start), anomaly_id)
{ttl_derived:window_start};

CREATE VIEW IF NOT EXISTS {database}.anomalies_dedup {on_cluster} AS
SELECT * FROM {database}.anomalies FINAL;

-- One row per alert episode (pending -> firing -> resolved); each state or delivery update is
-- inserted as a new row with a later updated_at and replaces the previous one on merge.
CREATE TABLE IF NOT EXISTS {database}.alerts {on_cluster}
(
    alert_id String,
    rule LowCardinality(String),
    dedup_key String,
    state LowCardinality(String),
    severity LowCardinality(String),
    labels Map(LowCardinality(String), String),
    value Nullable(Float64),
    threshold Nullable(Float64),
    summary String CODEC(ZSTD(3)),
    route LowCardinality(String),
    delivery_status LowCardinality(String),
    attempts UInt16,
    last_error String CODEC(ZSTD(3)),
    started_at DateTime64(3, 'UTC'),
    resolved_at Nullable(DateTime64(3, 'UTC')),
    updated_at DateTime64(3, 'UTC'),
    ingested_at DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = {replicated}ReplacingMergeTree(updated_at)
PARTITION BY toYYYYMM(started_at)
ORDER BY (rule, alert_id)
{ttl_derived:started_at};

CREATE VIEW IF NOT EXISTS {database}.alerts_latest {on_cluster} AS
SELECT * FROM {database}.alerts FINAL;
