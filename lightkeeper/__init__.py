"""Lightkeeper: open-source LLM observability and monitoring.

One import namespace, in layers (each imports only from the layers below it; checked by
``make lint``):

- foundation: ``lightkeeper.errors``, ``ids``, ``settings``, ``text`` (PII patterns, token
  estimate) and ``metric_point``;
- ``lightkeeper.schemas``: versioned record models, the event codec, ClickHouse migrations;
- ``lightkeeper.store`` and ``lightkeeper.kafka``: ClickHouse and Kafka plumbing;
- ``lightkeeper.agent`` (the sidecar), ``lightkeeper.processors`` (enrichment, scorers, drift,
  anomalies, the pipeline) and ``lightkeeper.alerts`` (rules, lifecycle, delivery), which do
  not import each other;
- the shells: ``lightkeeper.worker`` (faust app), ``runtime``, ``report``, ``demo``, ``cli``.
"""

__version__ = "0.1.0"
