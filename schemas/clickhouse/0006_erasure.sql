-- 0006: erasure bookkeeping (lightkeeper erase).
--
-- erasures         the audit trail: one row per erasure run (who ran it, the kind of selector, a
--                  salted hash of its value, the cut-off time, rows removed per table). It holds
--                  no personal data: the selector value itself is never stored.
-- erased_subjects  the subjects the worker keeps dropping: events of an erased user, tenant or
--                  session that arrive after the erasure (still in Kafka, replayed from a spool)
--                  are dropped until drop_until. Keyed by (kind, hash): erasing the same subject
--                  again replaces the row (the later erased_at wins).
-- Neither table has a TTL: the audit trail outlives the data it describes.

CREATE TABLE IF NOT EXISTS {database}.erasures {on_cluster}
(
    erasure_id String,
    requested_by String,
    selector_kind LowCardinality(String) COMMENT 'user, tenant, session or all',
    selector_hash String COMMENT 'hex HMAC-SHA256 of kind:value under the erasure salt',
    before Nullable(DateTime64(3, 'UTC')) COMMENT 'only rows that started before this time',
    counts Map(LowCardinality(String), UInt64) COMMENT 'table -> rows removed (drift: examples removed)',
    drop_until Nullable(DateTime64(3, 'UTC')) COMMENT 'late events of the subject are dropped until then',
    requested_at DateTime64(3, 'UTC'),
    finished_at DateTime64(3, 'UTC'),
    ingested_at DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = {replicated}ReplacingMergeTree(finished_at)
ORDER BY erasure_id;

CREATE VIEW IF NOT EXISTS {database}.erasures_latest {on_cluster} AS
SELECT * FROM {database}.erasures FINAL;

CREATE TABLE IF NOT EXISTS {database}.erased_subjects {on_cluster}
(
    selector_kind LowCardinality(String),
    selector_hash String,
    before Nullable(DateTime64(3, 'UTC')),
    erased_at DateTime64(3, 'UTC'),
    drop_until DateTime64(3, 'UTC')
)
ENGINE = {replicated}ReplacingMergeTree(erased_at)
ORDER BY (selector_kind, selector_hash);

CREATE VIEW IF NOT EXISTS {database}.erased_subjects_latest {on_cluster} AS
SELECT * FROM {database}.erased_subjects FINAL;

{cluster_only}
CREATE TABLE IF NOT EXISTS {database}.erasures_all {on_cluster} AS {database}.erasures
ENGINE = Distributed({cluster}, {database}, erasures, cityHash64(erasure_id));

CREATE TABLE IF NOT EXISTS {database}.erased_subjects_all {on_cluster} AS {database}.erased_subjects
ENGINE = Distributed({cluster}, {database}, erased_subjects, cityHash64(selector_kind, selector_hash));

CREATE VIEW IF NOT EXISTS {database}.erasures_latest_all {on_cluster} AS
SELECT * FROM {database}.erasures_all FINAL;

CREATE VIEW IF NOT EXISTS {database}.erased_subjects_latest_all {on_cluster} AS
SELECT * FROM {database}.erased_subjects_all FINAL;
{end_cluster_only}
