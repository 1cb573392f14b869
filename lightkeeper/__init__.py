"""Lightkeeper: open-source LLM observability and monitoring.

Top-level packages of the distribution:

- ``lightkeeper``  core shared by every deployable: settings, CLI, ClickHouse store, Kafka plumbing.
- ``schemas``      versioned record models, JSON Schemas and ClickHouse migrations.
- ``agent``        the sidecar: proxy, OTLP receiver, ingest API, publisher, spool (lean install).
- ``processors``   stream processing: enrichment, cost, scorers, drift, anomalies, sinks.
- ``alerts``       alert rules, lifecycle and delivery (Slack, PagerDuty, webhooks).
"""

__version__ = "0.1.0"
