"""Slack: the Web API (bot token, ``chat.postMessage``) or an incoming webhook, via slack-sdk.

slack-sdk's own retry handlers are disabled: the dispatcher owns retries (backoff, jitter,
``Retry-After``) and the outbox owns durability.
"""

from __future__ import annotations

from typing import Any

from lightkeeper.alerts.delivery.base import check_status, retry_after
from lightkeeper.alerts.delivery.slack_blocks import blocks, fallback_text
from lightkeeper.alerts.notification import Notification
from lightkeeper.errors import DeliveryError

#: Slack API errors that retrying cannot fix.
PERMANENT_ERRORS = {
    "channel_not_found",
    "not_in_channel",
    "is_archived",
    "invalid_auth",
    "not_authed",
    "account_inactive",
    "token_revoked",
    "no_permission",
    "missing_scope",
    "invalid_blocks",
    "msg_too_long",
    "restricted_action",
}


class SlackChannel:
    """``chat.postMessage`` with a bot token."""

    def __init__(
        self,
        name: str,
        token: str,
        channel: str,
        *,
        base_url: str = "https://slack.com/api/",
        timeout_s: float = 10.0,
        dashboard_url: str | None = None,
    ) -> None:
        from slack_sdk.web.async_client import AsyncWebClient

        self.name = name
        self.channel = channel
        self.dashboard_url = dashboard_url
        base = base_url if base_url.endswith("/") else base_url + "/"
        self._client = AsyncWebClient(
            token=token, base_url=base, timeout=int(max(1, timeout_s)), retry_handlers=[]
        )
        self._timeout = timeout_s

    async def send(self, note: Notification) -> None:
        from slack_sdk.errors import SlackApiError

        try:
            await self._client.chat_postMessage(
                channel=self.channel,
                text=fallback_text(note),
                blocks=blocks(note, self.dashboard_url),
                unfurl_links=False,
                unfurl_media=False,
            )
        except SlackApiError as exc:
            raise _api_error(self.name, exc) from None
        except Exception as exc:  # network errors, timeouts: transient
            raise DeliveryError(f"{self.name}: {type(exc).__name__}: {exc}") from None

    async def aclose(self) -> None:
        session = getattr(self._client, "session", None)
        if session is not None:
            await session.close()


def _api_error(route: str, exc: Any) -> DeliveryError:
    resp = getattr(exc, "response", None)
    status = getattr(resp, "status_code", None) or getattr(resp, "status", 0) or 0
    headers = getattr(resp, "headers", None) or {}
    data = getattr(resp, "data", None)
    error = data.get("error", "") if isinstance(data, dict) else ""
    if status == 429 or error == "ratelimited":
        return DeliveryError(f"{route}: rate limited by Slack", retry_after=retry_after(headers))
    if error in PERMANENT_ERRORS:
        return DeliveryError(f"{route}: Slack refused: {error}", permanent=True)
    if status and 400 <= status < 500 and status not in (408, 425):
        return DeliveryError(f"{route}: Slack refused ({status}) {error}", permanent=True)
    return DeliveryError(f"{route}: Slack error ({status}) {error or exc}")


class SlackWebhookChannel:
    """A Slack incoming webhook (``hooks.slack.com/services/...``)."""

    def __init__(
        self, name: str, url: str, *, timeout_s: float = 10.0, dashboard_url: str | None = None
    ) -> None:
        from slack_sdk.webhook.async_client import AsyncWebhookClient

        self.name = name
        self.dashboard_url = dashboard_url
        self._client = AsyncWebhookClient(url, timeout=int(max(1, timeout_s)), retry_handlers=[])

    async def send(self, note: Notification) -> None:
        try:
            resp = await self._client.send(text=fallback_text(note), blocks=blocks(note, self.dashboard_url))
        except Exception as exc:
            raise DeliveryError(f"{self.name}: {type(exc).__name__}: {exc}") from None
        check_status(self.name, resp.status_code, dict(resp.headers or {}), str(resp.body or ""))

    async def aclose(self) -> None:
        session = getattr(self._client, "session", None)
        if session is not None:
            await session.close()
