"""Settings of the alerting side: rules file, routes (Slack, PagerDuty, webhooks), retries.

YAML (section ``alerts``)::

    alerts:
      rules_file: alerts/examples/rules.yaml
      routes:
        slack-oncall: {type: slack, token: xoxb-..., channel: "#llm-oncall"}
        slack-hook:   {type: slack_webhook, url: https://hooks.slack.com/services/...}
        pagerduty:    {type: pagerduty, routing_key: R0UT1NGKEY}
        audit:        {type: webhook, url: https://example.com/hook, secret: s3cret}
      retry: {max_attempts: 8, base_delay_s: 1, max_delay_s: 300, jitter: 0.2}

Environment: ``LIGHTKEEPER_ROUTES__PAGERDUTY__ROUTING_KEY=...``. Every base URL is configurable
(``base_url`` for Slack's Web API and PagerDuty, ``url`` for webhooks) so tests and air-gapped
installs can point at local servers.
"""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar, Literal

from pydantic import BaseModel, Field, SecretStr, model_validator

from lightkeeper.schemas.records import Severity
from lightkeeper.settings import LightkeeperSettings

DEFAULT_BASE_URLS = {
    "slack": "https://slack.com/api/",
    "pagerduty": "https://events.pagerduty.com",
}


class RouteConfig(BaseModel):
    """One notification destination."""

    type: Literal["slack", "slack_webhook", "pagerduty", "webhook"]
    token: SecretStr | None = None
    """slack: the bot token (``xoxb-…``) used with ``chat.postMessage``."""
    channel: str | None = None
    """slack: channel id or name."""
    url: str | None = None
    """slack_webhook / webhook: the URL to POST to."""
    routing_key: SecretStr | None = None
    """pagerduty: the Events API v2 integration (routing) key."""
    secret: SecretStr | None = None
    """webhook: HMAC-SHA256 key for the ``X-Lightkeeper-Signature`` header."""
    headers: dict[str, str] = Field(default_factory=dict)
    base_url: str | None = None
    """slack / pagerduty: API base URL (default: the public service)."""
    timeout_s: float = Field(default=10.0, gt=0)
    min_severity: Severity | None = None
    """Only notifications at or above this severity use the route."""
    dashboard_url: str | None = None
    """Optional link added to messages (e.g. a Grafana dashboard)."""

    @model_validator(mode="after")
    def _required(self) -> RouteConfig:
        need = {
            "slack": ("token", "channel"),
            "slack_webhook": ("url",),
            "pagerduty": ("routing_key",),
            "webhook": ("url",),
        }[self.type]
        missing = [f for f in need if getattr(self, f) in (None, "")]
        if missing:
            raise ValueError(f"route of type {self.type} needs {', '.join(missing)}")
        return self

    @property
    def effective_base_url(self) -> str:
        return self.base_url or DEFAULT_BASE_URLS.get(self.type, "")


class RetrySettings(BaseModel):
    """Exponential backoff with jitter; ``Retry-After`` (429) overrides the computed delay."""

    max_attempts: int = Field(default=8, ge=1)
    base_delay_s: float = Field(default=1.0, ge=0)
    max_delay_s: float = Field(default=300.0, ge=0)
    jitter: float = Field(default=0.2, ge=0, le=1)
    max_retry_after_s: float = Field(default=3600.0, ge=0)


class AlertSettings(LightkeeperSettings):
    """Settings of the alert engine and its notification dispatcher."""

    yaml_section: ClassVar[str | None] = "alerts"

    rules_file: Path | None = None
    routes: dict[str, RouteConfig] = Field(default_factory=dict)
    default_routes: list[str] = Field(default_factory=list)
    """Routes for rules that name none."""
    retry: RetrySettings = Field(default_factory=RetrySettings)
    outbox_path: Path | None = None
    """SQLite file of the notification outbox and alert state (default <data_dir>/alerts/outbox.sqlite3)."""
    silences_path: Path | None = None
    """JSON file of silences (default <data_dir>/alerts/silences.json)."""
    evaluate_every_s: float = Field(default=15.0, gt=0)
    dispatch_poll_s: float = Field(default=0.5, gt=0)

    @property
    def outbox_file(self) -> Path:
        return self.outbox_path or self.data_dir / "alerts" / "outbox.sqlite3"

    @property
    def silences_file(self) -> Path:
        return self.silences_path or self.data_dir / "alerts" / "silences.json"
