"""The Lightkeeper exception tree.

Every error Lightkeeper raises on purpose derives from :class:`LightkeeperError`::

    LightkeeperError
    ├── ConfigError              invalid settings, rules or pricing files (names the field)
    ├── SchemaError              a record failed validation (names each field and the problem)
    ├── StoreError               ClickHouse access failed
    │   ├── MigrationError       a migration failed or an applied file was edited
    │   └── StoreUnavailable     the store cannot take writes now (retry later)
    ├── BackpressureError        a bounded buffer is full; the caller decides (drop/spool/wait)
    ├── KafkaError               Kafka plumbing (dev broker, topic admin) failed
    ├── UpstreamError            the agent's call to an LLM upstream failed (answered 502 to the app)
    │   ├── UpstreamUnreachable  no connection could be made
    │   └── UpstreamDisconnected the connection broke before the response was complete
    └── DeliveryError            an alert notification could not be delivered
"""

from __future__ import annotations


class LightkeeperError(Exception):
    """Root of every error Lightkeeper raises on purpose."""


class ConfigError(LightkeeperError):
    """Invalid configuration: settings, rule files, pricing overrides."""


class SchemaError(LightkeeperError, ValueError):
    """A record failed validation.

    ``problems`` lists ``(field_path, message)`` pairs so callers can report per-field errors.
    """

    def __init__(self, message: str, problems: list[tuple[str, str]] | None = None) -> None:
        super().__init__(message)
        self.problems: list[tuple[str, str]] = problems or []


class StoreError(LightkeeperError):
    """ClickHouse access failed."""


class MigrationError(StoreError):
    """A migration could not be applied, or an applied migration file was edited."""


class StoreUnavailable(StoreError):
    """The store cannot take writes right now; retry later without losing the batch."""


class BackpressureError(LightkeeperError):
    """A bounded buffer is full. Raised instead of blocking; the caller applies its policy."""


class KafkaError(LightkeeperError):
    """Kafka plumbing failed (dev broker, topic administration)."""


class UpstreamError(LightkeeperError):
    """The agent's call to an LLM upstream failed (the application gets a 502 with the reason)."""


class UpstreamUnreachable(UpstreamError):
    """No connection to the upstream could be made (refused, DNS, TLS handshake)."""


class UpstreamDisconnected(UpstreamError):
    """The upstream connection broke (or sent a malformed response) before the response ended."""


class DeliveryError(LightkeeperError):
    """An alert notification could not be delivered."""

    def __init__(self, message: str, *, retry_after: float | None = None, permanent: bool = False) -> None:
        super().__init__(message)
        self.retry_after = retry_after
        self.permanent = permanent
