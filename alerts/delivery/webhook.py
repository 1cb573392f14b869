"""Generic webhook: the notification as JSON, signed with HMAC-SHA256.

Headers:

* ``X-Lightkeeper-Idempotency-Key``: unique per state change; receivers drop repeats.
* ``X-Lightkeeper-Timestamp``: Unix seconds when signed.
* ``X-Lightkeeper-Signature``: ``sha256=<hex>`` of HMAC(secret, ``"<timestamp>.<body>"``)
  (only when a secret is configured). Verify with :func:`verify_signature`.
"""

from __future__ import annotations

import hashlib
import hmac
import time

import orjson

from lightkeeper.alerts.delivery.base import check_status
from lightkeeper.alerts.notification import Notification
from lightkeeper.errors import DeliveryError


def sign(secret: str, timestamp: str, body: bytes) -> str:
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def verify_signature(
    secret: str,
    timestamp: str,
    body: bytes,
    signature: str,
    *,
    tolerance_s: float = 300.0,
    now: float | None = None,
) -> bool:
    """Receiver side: constant-time check of the signature and of the timestamp's freshness."""
    try:
        age = abs((now if now is not None else time.time()) - float(timestamp))
    except ValueError:
        return False
    return age <= tolerance_s and hmac.compare_digest(sign(secret, timestamp, body), signature)


class WebhookChannel:
    """POST the notification JSON to ``url``."""

    def __init__(
        self,
        name: str,
        url: str,
        *,
        secret: str | None = None,
        headers: dict[str, str] | None = None,
        timeout_s: float = 10.0,
    ) -> None:
        import httpx

        self.name = name
        self.url = url
        self.secret = secret
        self.headers = dict(headers or {})
        self._client = httpx.AsyncClient(timeout=timeout_s)

    async def send(self, note: Notification) -> None:
        body = orjson.dumps(note.webhook_body())
        ts = str(int(time.time()))
        headers = {
            **self.headers,
            "Content-Type": "application/json",
            "X-Lightkeeper-Idempotency-Key": note.key,
            "X-Lightkeeper-Timestamp": ts,
        }
        if self.secret:
            headers["X-Lightkeeper-Signature"] = sign(self.secret, ts, body)
        try:
            resp = await self._client.post(self.url, content=body, headers=headers)
        except Exception as exc:
            raise DeliveryError(f"{self.name}: {type(exc).__name__}: {exc}") from None
        check_status(self.name, resp.status_code, dict(resp.headers), resp.text)

    async def aclose(self) -> None:
        await self._client.aclose()
