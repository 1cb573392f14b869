"""Prometheus metrics of one agent (own registry, so several agents can live in one process).

=================================================  ==========================================
metric                                             meaning
=================================================  ==========================================
lightkeeper_agent_requests_total{route,status}     proxied calls by route and HTTP status
lightkeeper_agent_upstream_latency_seconds{route}  upstream time (request sent -> last byte)
lightkeeper_agent_added_latency_seconds            time the agent adds on a non-streaming call
lightkeeper_agent_events_total{outcome}            built, published, spooled, replayed, dropped,
                                                   copied / copy_acked (spooled while unacked /
                                                   then acknowledged by Kafka after all)
lightkeeper_agent_events_dropped_total{reason}     events lost, by reason (spool_full, ...)
lightkeeper_agent_event_build_errors_total         bugs while building an event (logged)
lightkeeper_agent_buffer_depth                     events waiting in memory for Kafka
lightkeeper_agent_unacked_events                   events handed to Kafka, not acknowledged yet
lightkeeper_agent_spool_bytes                      bytes in the on-disk spool
lightkeeper_agent_spool_writable                   0 after a failed spool write (disk full)
lightkeeper_agent_kafka_up                         1 when the last Kafka send succeeded
lightkeeper_agent_otlp_spans_total{outcome}        OTLP spans converted / ignored / invalid
lightkeeper_agent_ingest_items_total{outcome}      /v1/events items accepted / rejected
lightkeeper_agent_otlp_logs_total{outcome}         OTLP log records joined to their span / unmatched
                                                   (no span within the join window) / ignored / invalid
lightkeeper_agent_otlp_join_spans_total{outcome}   GenAI spans held for their log records: joined /
                                                   published without them (window over, or evicted)
lightkeeper_agent_capture_problems_total{problem}  metadata of a call that could not be captured
                                                   (context_header_invalid, context_header_too_large);
                                                   the call itself is unaffected
=================================================  ==========================================
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

_LATENCY_BUCKETS = (
    0.0002,
    0.0005,
    0.001,
    0.002,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1,
    2.5,
    5,
    10,
    30,
    60,
)
_ADDED_BUCKETS = (0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.1)


class AgentMetrics:
    """All metrics of one agent, registered in ``self.registry``."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry(auto_describe=True)
        r = self.registry
        self.requests = Counter(
            "lightkeeper_agent_requests", "Proxied calls", ["route", "status"], registry=r
        )
        self.upstream_latency = Histogram(
            "lightkeeper_agent_upstream_latency_seconds",
            "Upstream latency",
            ["route"],
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.added_latency = Histogram(
            "lightkeeper_agent_added_latency_seconds",
            "Latency added by the agent (non-streaming calls)",
            buckets=_ADDED_BUCKETS,
            registry=r,
        )
        self.events = Counter("lightkeeper_agent_events", "Events by outcome", ["outcome"], registry=r)
        self.dropped = Counter("lightkeeper_agent_events_dropped", "Events lost", ["reason"], registry=r)
        self.build_errors = Counter(
            "lightkeeper_agent_event_build_errors", "Event build failures", registry=r
        )
        self.buffer_depth = Gauge(
            "lightkeeper_agent_buffer_depth", "Events in memory awaiting Kafka", registry=r
        )
        self.unacked_events = Gauge(
            "lightkeeper_agent_unacked_events", "Events handed to Kafka, not acknowledged yet", registry=r
        )
        self.spool_bytes = Gauge("lightkeeper_agent_spool_bytes", "Bytes in the on-disk spool", registry=r)
        self.spool_writable = Gauge(
            "lightkeeper_agent_spool_writable", "0 after a failed spool write (disk full)", registry=r
        )
        self.spool_writable.set(1)
        self.kafka_up = Gauge(
            "lightkeeper_agent_kafka_up", "1 when Kafka accepted the last batch", registry=r
        )
        self.otlp_spans = Counter("lightkeeper_agent_otlp_spans", "OTLP spans", ["outcome"], registry=r)
        self.otlp_logs = Counter("lightkeeper_agent_otlp_logs", "OTLP log records", ["outcome"], registry=r)
        self.otlp_join_spans = Counter(
            "lightkeeper_agent_otlp_join_spans",
            "GenAI spans held for their log records",
            ["outcome"],
            registry=r,
        )
        self.ingest_items = Counter(
            "lightkeeper_agent_ingest_items", "Ingested events", ["outcome"], registry=r
        )
        self.capture_problems = Counter(
            "lightkeeper_agent_capture_problems",
            "Call metadata that could not be captured (the call is unaffected)",
            ["problem"],
            registry=r,
        )
        for outcome in ("built", "published", "spooled", "replayed"):
            self.events.labels(outcome)
