"""What every notification channel implements, and the HTTP status -> error mapping."""

from __future__ import annotations

from collections.abc import Mapping
from email.utils import parsedate_to_datetime
from typing import Protocol, runtime_checkable

from lightkeeper.alerts.notification import Notification
from lightkeeper.errors import DeliveryError
from lightkeeper.schemas.events import utcnow


@runtime_checkable
class Channel(Protocol):
    """A destination. ``send`` returns when the receiver accepted the notification and raises
    :class:`~lightkeeper.errors.DeliveryError` otherwise (``retry_after`` from a 429,
    ``permanent`` when retrying cannot help)."""

    name: str

    async def send(self, note: Notification) -> None: ...

    async def aclose(self) -> None: ...


def retry_after(headers: Mapping[str, str] | None) -> float | None:
    """Seconds from a ``Retry-After`` header (delta-seconds or an HTTP date), if any."""
    if not headers:
        return None
    raw = None
    for k, v in headers.items():
        if k.lower() == "retry-after":
            raw = v
            break
    if raw is None:
        return None
    try:
        return max(0.0, float(raw))
    except ValueError:
        pass
    try:
        return max(0.0, (parsedate_to_datetime(raw) - utcnow()).total_seconds())
    except (TypeError, ValueError):
        return None


def check_status(route: str, status: int, headers: Mapping[str, str] | None, body: str) -> None:
    """Raise the right :class:`DeliveryError` for a non-2xx HTTP status."""
    if 200 <= status < 300:
        return
    snippet = body[:300]
    if status == 429:
        raise DeliveryError(f"{route}: rate limited (429) {snippet}", retry_after=retry_after(headers))
    if status in (408, 425) or status >= 500:
        raise DeliveryError(f"{route}: receiver error {status} {snippet}", retry_after=retry_after(headers))
    raise DeliveryError(f"{route}: rejected with {status} {snippet}", permanent=True)
