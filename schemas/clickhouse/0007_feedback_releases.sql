-- 0007: user feedback, and the release an event belongs to.
--
-- feedback         one row per feedback item (POST /v1/feedback on the agent, or an OTLP span
--                  event), keyed by feedback_id: a re-sent item replaces the earlier copy. It
--                  points at its target by (target_kind, target): an event id, a trace/span
--                  pair 'trace_id/span_id', a trace id, or a session id.
-- feedback_events  feedback joined with the event it is about (for a trace or a session: the
--                  latest event of it). unmatched = 1 while no such event is stored; feedback
--                  that arrives before its event is joined as soon as the event is stored.
-- events gains prompt_id, prompt_version and release (from request headers, body metadata or
-- the gen_ai.prompt.* OpenTelemetry attributes); events_dedup is re-created to show them.

CREATE TABLE IF NOT EXISTS {database}.feedback {on_cluster}
(
    feedback_id String,
    app LowCardinality(String),
    tenant LowCardinality(String),
    user_id String,
    session_id String,
    event_id String,
    trace_id String,
    span_id String,
    target_kind LowCardinality(String) COMMENT 'event, span, trace or session',
    target String COMMENT 'event id, trace_id/span_id, trace id or session id',
    score_kind LowCardinality(String) COMMENT 'thumbs or rating',
    value Float64 COMMENT 'as given: 1/0 for thumbs up/down, else the rating',
    scale_min Float64,
    scale_max Float64,
    score Float32 COMMENT 'value mapped to [0, 1] over [scale_min, scale_max]',
    negative UInt8 COMMENT 'thumbs down, or score below 0.5',
    comment String CODEC(ZSTD(3)) COMMENT 'redacted like prompts',
    redacted UInt8,
    redaction_types Array(LowCardinality(String)),
    source LowCardinality(String) COMMENT 'api or otlp',
    created_at DateTime64(3, 'UTC'),
    received_at DateTime64(3, 'UTC'),
    ingested_at DateTime64(3, 'UTC') DEFAULT now64(3),

    INDEX idx_target target TYPE bloom_filter(0.01) GRANULARITY 4
)
ENGINE = {replicated}ReplacingMergeTree(received_at)
PARTITION BY toYYYYMM(received_at)
ORDER BY (app, feedback_id)
{ttl_derived:received_at};

CREATE VIEW IF NOT EXISTS {database}.feedback_dedup {on_cluster} AS
SELECT * FROM {database}.feedback FINAL;

ALTER TABLE {database}.events {on_cluster}
    ADD COLUMN IF NOT EXISTS prompt_id String AFTER model,
    ADD COLUMN IF NOT EXISTS prompt_version LowCardinality(String) AFTER prompt_id,
    ADD COLUMN IF NOT EXISTS release LowCardinality(String) AFTER prompt_version;

CREATE OR REPLACE VIEW {database}.events_dedup {on_cluster} AS
SELECT * FROM {database}.events FINAL;

CREATE VIEW IF NOT EXISTS {database}.feedback_events {on_cluster} AS
SELECT
    f.*,
    t.ev_id AS matched_event_id,
    toUInt8(t.ev_id = '') AS unmatched,
    t.ev_model AS model,
    t.ev_release AS release,
    t.ev_prompt_id AS prompt_id,
    t.ev_prompt_version AS prompt_version,
    t.ev_time AS event_time
FROM {database}.feedback AS f FINAL
LEFT JOIN
(
    SELECT
        k.1 AS ev_target_kind,
        k.2 AS ev_target,
        argMax(event_id, start_time) AS ev_id,
        argMax(model, start_time) AS ev_model,
        argMax(release, start_time) AS ev_release,
        argMax(prompt_id, start_time) AS ev_prompt_id,
        argMax(prompt_version, start_time) AS ev_prompt_version,
        max(start_time) AS ev_time
    FROM {database}.events FINAL
    ARRAY JOIN [
        ('event', event_id),
        ('span', if(trace_id = '' OR span_id = '', '', concat(trace_id, '/', span_id))),
        ('trace', trace_id),
        ('session', session_id)
    ] AS k
    WHERE k.2 != ''
    GROUP BY ev_target_kind, ev_target
) AS t ON f.target_kind = t.ev_target_kind AND f.target = t.ev_target;

{cluster_only}
ALTER TABLE {database}.events_all {on_cluster}
    ADD COLUMN IF NOT EXISTS prompt_id String AFTER model,
    ADD COLUMN IF NOT EXISTS prompt_version LowCardinality(String) AFTER prompt_id,
    ADD COLUMN IF NOT EXISTS release LowCardinality(String) AFTER prompt_version;

CREATE OR REPLACE VIEW {database}.events_dedup_all {on_cluster} AS
SELECT * FROM {database}.events_all FINAL;

CREATE TABLE IF NOT EXISTS {database}.feedback_all {on_cluster} AS {database}.feedback
ENGINE = Distributed({cluster}, {database}, feedback, cityHash64(feedback_id));

CREATE VIEW IF NOT EXISTS {database}.feedback_dedup_all {on_cluster} AS
SELECT * FROM {database}.feedback_all FINAL;

-- GLOBAL: the joined events are read once on the initiator and sent to every shard.
CREATE VIEW IF NOT EXISTS {database}.feedback_events_all {on_cluster} AS
SELECT
    f.*,
    t.ev_id AS matched_event_id,
    toUInt8(t.ev_id = '') AS unmatched,
    t.ev_model AS model,
    t.ev_release AS release,
    t.ev_prompt_id AS prompt_id,
    t.ev_prompt_version AS prompt_version,
    t.ev_time AS event_time
FROM {database}.feedback_all AS f FINAL
GLOBAL LEFT JOIN
(
    SELECT
        k.1 AS ev_target_kind,
        k.2 AS ev_target,
        argMax(event_id, start_time) AS ev_id,
        argMax(model, start_time) AS ev_model,
        argMax(release, start_time) AS ev_release,
        argMax(prompt_id, start_time) AS ev_prompt_id,
        argMax(prompt_version, start_time) AS ev_prompt_version,
        max(start_time) AS ev_time
    FROM {database}.events_all FINAL
    ARRAY JOIN [
        ('event', event_id),
        ('span', if(trace_id = '' OR span_id = '', '', concat(trace_id, '/', span_id))),
        ('trace', trace_id),
        ('session', session_id)
    ] AS k
    WHERE k.2 != ''
    GROUP BY ev_target_kind, ev_target
) AS t ON f.target_kind = t.ev_target_kind AND f.target = t.ev_target;
{end_cluster_only}
