"""Settings of the stream-processing worker (``lightkeeper worker``) and of the processing
part of the embedded runtime (``lightkeeper up``). YAML section: ``worker``.

Example::

    worker:
      batch_max: 2000
      batch_within_s: 0.5
      metrics_port: 9464
      pricing:
        overrides:                      # negotiated prices, USD per 1M tokens
          gpt-4o: {in: 2.00, out: 8.00, cached: 1.00}
        custom_models:                  # fine-tunes, self-hosted models
          - {id: ft:gpt-4o-mini:acme::abc, provider: openai, in: 0.30, out: 1.20, cached: 0.15}
        aliases:                        # deployment names -> model ids (Azure, gateways)
          prod-chat: gpt-4o-2024-08-06
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

from pydantic import BaseModel, Field

from lightkeeper.settings import LightkeeperSettings


class PricingSettings(BaseModel):
    """Per-deployment pricing changes on top of the shipped table."""

    file: Path | None = None
    """A replacement pricing table (same format as ``processors/pricing/models.yaml``)."""
    overrides: dict[str, dict[str, Any]] = Field(default_factory=dict)
    custom_models: list[dict[str, Any]] = Field(default_factory=list)
    aliases: dict[str, str] = Field(default_factory=dict)


class WorkerSettings(LightkeeperSettings):
    """The worker: consume ``events``, enrich, score, write to the store, publish results."""

    yaml_section: ClassVar[str | None] = "worker"

    app_id: str = "lightkeeper-worker"
    """faust application id; also the Kafka consumer group of the events agent."""
    batch_max: int = Field(default=2000, ge=1)
    """Largest batch taken from the stream (``stream.noack_take(batch_max, within)``)."""
    batch_within_s: float = Field(default=0.5, gt=0)
    """Longest wait to fill a batch; bounds the added latency."""
    batch_target_s: float = Field(default=0.75, gt=0)
    """Embedded runtime (``lightkeeper up``): processing + insert time aimed at per batch. The
    batch size follows the measured time per event (between 16 and ``batch_max``), so with
    scoring on an event is queryable about ``batch_within_s`` + 2 x this after it arrived."""
    metrics_port: int = Field(default=9464, ge=0, le=65535)
    """Prometheus ``/metrics`` port (0 disables)."""
    metrics_host: str = "0.0.0.0"
    retry_initial_s: float = Field(default=0.5, gt=0)
    """First back-off while the store is unavailable (doubles up to ``retry_max_s``)."""
    retry_max_s: float = Field(default=30.0, gt=0)
    session_timeout_s: float = Field(default=10.0, gt=0)
    """Kafka group session timeout: how soon partitions of a dead worker move to the others."""
    estimate_tokens: bool = True
    """Estimate token counts from the captured text where the provider reported none."""
    stages: list[str] | None = None
    """Processing stages after enrichment (``scores``, ``drift``, ``anomalies``, ``alerts``);
    None: every stage whose module is installed and loads."""
    publish_results: bool = True
    """Publish derived records to the scores/drift/anomalies/alerts topics."""
    pricing: PricingSettings = Field(default_factory=PricingSettings)
    drift: dict[str, Any] = Field(default_factory=dict)
    """:class:`lightkeeper.processors.drift.DriftConfig` fields (windows, thresholds, per-app overrides)."""
    alert_rules: Path | None = None
    """Alert rules file (see ``alerts/examples/rules.yaml``); none: the alert stage is off."""
    alert_rules_inline: dict[str, Any] | None = None
    """Rules given inline (same document as the rules file)."""

    def pricing_table(self) -> Any:
        """The pricing table with this deployment's overrides (:class:`PricingTable`)."""
        from lightkeeper.processors.pricing import default_pricing, load_pricing

        p = self.pricing
        if p.file is None and not p.overrides and not p.custom_models and not p.aliases:
            return default_pricing()
        return load_pricing(p.file, overrides=p.overrides, custom_models=p.custom_models, aliases=p.aliases)
