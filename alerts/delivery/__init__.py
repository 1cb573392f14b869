"""Notification channels (Slack Web API, Slack webhook, PagerDuty Events v2, generic webhook)
and the retrying dispatcher that drains the outbox."""

from __future__ import annotations

from collections.abc import Mapping

from pydantic import SecretStr

from lightkeeper.alerts.delivery.base import Channel, check_status, retry_after
from lightkeeper.alerts.delivery.retry import Dispatcher, RetryPolicy
from lightkeeper.alerts.settings import RouteConfig


def _secret(value: SecretStr | None) -> str | None:
    return value.get_secret_value() if value is not None else None


def build_channel(name: str, route: RouteConfig) -> Channel:
    """The channel for a configured route."""
    if route.type == "slack":
        from lightkeeper.alerts.delivery.slack import SlackChannel

        return SlackChannel(
            name,
            _secret(route.token) or "",
            route.channel or "",
            base_url=route.effective_base_url,
            timeout_s=route.timeout_s,
            dashboard_url=route.dashboard_url,
        )
    if route.type == "slack_webhook":
        from lightkeeper.alerts.delivery.slack import SlackWebhookChannel

        return SlackWebhookChannel(
            name, route.url or "", timeout_s=route.timeout_s, dashboard_url=route.dashboard_url
        )
    if route.type == "pagerduty":
        from lightkeeper.alerts.delivery.pagerduty import PagerDutyChannel

        return PagerDutyChannel(
            name,
            _secret(route.routing_key) or "",
            base_url=route.effective_base_url,
            timeout_s=route.timeout_s,
        )
    from lightkeeper.alerts.delivery.webhook import WebhookChannel

    return WebhookChannel(
        name, route.url or "", secret=_secret(route.secret), headers=route.headers, timeout_s=route.timeout_s
    )


def build_channels(routes: Mapping[str, RouteConfig]) -> dict[str, Channel]:
    return {name: build_channel(name, cfg) for name, cfg in routes.items()}


__all__ = [
    "Channel",
    "Dispatcher",
    "RetryPolicy",
    "build_channel",
    "build_channels",
    "check_status",
    "retry_after",
]
