-- 0005: the audit of reads: one row per query through the SQL endpoint of `lightkeeper up` and
-- per `lightkeeper sql` run, refused ones included.
--
-- query_text is the query with the contents of its string literals replaced by '?' (values that
-- could be personal data never land here; parameter values are not kept, only their names);
-- query_hash is the SHA-256 of that redacted, whitespace-normalized text, so the same query shape
-- groups together. token_id is a hash prefix of the bearer token, never the token.
-- Idempotency: a row is identified by query_id; a retried write collapses on merge.

CREATE TABLE IF NOT EXISTS {database}.audit_queries {on_cluster}
(
    query_id String,
    queried_at DateTime64(3, 'UTC'),
    source LowCardinality(String) COMMENT 'endpoint | cli',
    principal LowCardinality(String) COMMENT 'token name (endpoint) or store user (cli)',
    token_id LowCardinality(String),
    tenant LowCardinality(String) COMMENT 'empty: not scoped to a tenant',
    database LowCardinality(String),
    query_hash String COMMENT 'SHA-256 hex',
    query_text String CODEC(ZSTD(3)),
    parameter_names Array(LowCardinality(String)),
    format LowCardinality(String),
    outcome LowCardinality(String) COMMENT 'ok | refused | failed | timeout | busy | unauthorized | unavailable',
    refused UInt8,
    error String CODEC(ZSTD(3)),
    rows_returned UInt64,
    bytes_returned UInt64,
    truncated UInt8,
    duration_ms Float64,
    ingested_at DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = {replicated}ReplacingMergeTree(ingested_at)
PARTITION BY toYYYYMM(queried_at)
ORDER BY (principal, toStartOfHour(queried_at), query_id)
{ttl_derived:queried_at};

CREATE VIEW IF NOT EXISTS {database}.audit_queries_dedup {on_cluster} AS
SELECT * FROM {database}.audit_queries FINAL;

{cluster_only}
CREATE TABLE IF NOT EXISTS {database}.audit_queries_all {on_cluster} AS {database}.audit_queries
ENGINE = Distributed({cluster}, {database}, audit_queries, cityHash64(query_id));

CREATE VIEW IF NOT EXISTS {database}.audit_queries_dedup_all {on_cluster} AS
SELECT * FROM {database}.audit_queries_all FINAL;
{end_cluster_only}
