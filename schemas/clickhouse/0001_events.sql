-- 0001: the events table and the analysts' view without duplicates.
--
-- Placeholders (filled by lightkeeper.store.migrate from configuration, never from user input):
--   {database}               target database
--   {on_cluster}             '' or ON CLUSTER `name`
--   {replicated}             '' or Replicated (engine prefix for the cluster variant)
--   {ttl_events:COLUMN}      '' or TTL toDateTime(COLUMN) + toIntervalDay(<store.events_ttl_days>)
--   {ttl_derived:COLUMN}     same with <store.derived_ttl_days>
--
-- Idempotency: one row per LLM call. Redelivered copies of an event collapse on merge because the
-- sorting key ends with event_id and every other key column (app, start hour) is a fixed property
-- of the event; the partition (month of start_time) is fixed too. The newest ingested copy wins.
-- Read through events_dedup (FINAL) to never double count before a merge happened.

CREATE DATABASE IF NOT EXISTS {database} {on_cluster};

CREATE TABLE IF NOT EXISTS {database}.events {on_cluster}
(
    event_id String,
    schema_version UInt16,

    app LowCardinality(String),
    environment LowCardinality(String),
    tenant LowCardinality(String),
    user_id String,
    session_id String,
    trace_id String,
    span_id String,
    route LowCardinality(String),
    source LowCardinality(String),

    provider_name LowCardinality(String),
    operation_name LowCardinality(String),
    request_model LowCardinality(String),
    response_model LowCardinality(String),
    model LowCardinality(String) COMMENT 'served model: response_model, else request_model, else unknown',
    response_id String,

    temperature Nullable(Float32),
    max_tokens Nullable(UInt32),
    top_p Nullable(Float32),
    top_k Nullable(Float32),
    frequency_penalty Nullable(Float32),
    presence_penalty Nullable(Float32),
    stop_sequences Array(String),
    seed Nullable(Int64),
    choice_count Nullable(UInt16),

    input_tokens Nullable(UInt32),
    output_tokens Nullable(UInt32),
    cache_read_input_tokens Nullable(UInt32),
    cache_creation_input_tokens Nullable(UInt32),
    reasoning_output_tokens Nullable(UInt32),
    tokens_estimated UInt8,
    finish_reasons Array(LowCardinality(String)),

    start_time DateTime64(3, 'UTC'),
    end_time Nullable(DateTime64(3, 'UTC')),
    duration_ms Nullable(Float64),
    time_to_first_token_ms Nullable(Float64),
    streaming UInt8,

    http_status Nullable(UInt16),
    error_type LowCardinality(String),
    error_message String CODEC(ZSTD(3)),
    is_error UInt8,

    input_messages String CODEC(ZSTD(3)) COMMENT 'JSON array of messages',
    output_text String CODEC(ZSTD(3)),
    output_tool_calls String CODEC(ZSTD(3)) COMMENT 'JSON array of tool calls',
    context_documents Nullable(String) CODEC(ZSTD(3)) COMMENT 'JSON array, NULL when the call had no RAG context',

    tags Map(LowCardinality(String), String),
    metadata String CODEC(ZSTD(3)) COMMENT 'JSON object',
    extra String CODEC(ZSTD(3)) COMMENT 'JSON object of unknown top-level fields (newer producers)',

    truncated UInt8,
    redacted UInt8,
    redaction_types Array(LowCardinality(String)),
    body_sampled UInt8,

    cost_usd Nullable(Decimal(18, 9)),
    cost_input_usd Nullable(Decimal(18, 9)),
    cost_output_usd Nullable(Decimal(18, 9)),
    cost_cached_input_usd Nullable(Decimal(18, 9)),
    cost_reasoning_usd Nullable(Decimal(18, 9)),
    pricing_version LowCardinality(String),
    cost_unknown_model UInt8,

    ingested_at DateTime64(3, 'UTC') DEFAULT now64(3),

    INDEX idx_event_id event_id TYPE bloom_filter(0.01) GRANULARITY 4,
    INDEX idx_user_id user_id TYPE bloom_filter(0.01) GRANULARITY 4,
    INDEX idx_trace_id trace_id TYPE bloom_filter(0.01) GRANULARITY 4
)
ENGINE = {replicated}ReplacingMergeTree(ingested_at)
PARTITION BY toYYYYMM(start_time)
ORDER BY (app, toStartOfHour(start_time), event_id)
{ttl_events:start_time};

CREATE VIEW IF NOT EXISTS {database}.events_dedup {on_cluster} AS
SELECT * FROM {database}.events FINAL;
