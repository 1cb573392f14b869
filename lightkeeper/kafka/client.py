"""Keyword arguments for Kafka clients, built from :class:`KafkaSettings`.

Everything a real cluster needs (bootstrap servers, security protocol, SASL mechanism and
credentials, TLS CA/cert/key files, host-name checking) is passed through, so producers,
consumers, the admin client and faust apps connect the same way::

    producer = AIOKafkaProducer(**producer_kwargs(settings.kafka), linger_ms=5)
"""

from __future__ import annotations

import ssl
from typing import Any

from lightkeeper.errors import ConfigError
from lightkeeper.settings import KafkaSettings


def ssl_context(settings: KafkaSettings) -> ssl.SSLContext | None:
    """The TLS context for SSL / SASL_SSL (``None`` for plaintext protocols)."""
    if settings.security_protocol not in ("SSL", "SASL_SSL"):
        return None
    from aiokafka.helpers import create_ssl_context

    for name in ("ssl_cafile", "ssl_certfile", "ssl_keyfile"):
        path = getattr(settings, name)
        if path is not None and not path.is_file():
            raise ConfigError(f"kafka.{name}: file not found: {path}")
    if (settings.ssl_certfile is None) != (settings.ssl_keyfile is None):
        raise ConfigError("kafka.ssl_certfile and kafka.ssl_keyfile must be given together")
    try:
        ctx = create_ssl_context(
            cafile=str(settings.ssl_cafile) if settings.ssl_cafile else None,
            certfile=str(settings.ssl_certfile) if settings.ssl_certfile else None,
            keyfile=str(settings.ssl_keyfile) if settings.ssl_keyfile else None,
        )
    except (ssl.SSLError, OSError) as exc:
        raise ConfigError(f"kafka TLS files could not be loaded: {exc}") from None
    ctx.check_hostname = settings.ssl_check_hostname
    return ctx


def common_kwargs(settings: KafkaSettings) -> dict[str, Any]:
    """Connection and security arguments shared by every aiokafka client."""
    kwargs: dict[str, Any] = {
        "bootstrap_servers": settings.bootstrap_servers,
        "client_id": settings.client_id,
        "security_protocol": settings.security_protocol,
    }
    ctx = ssl_context(settings)
    if ctx is not None:
        kwargs["ssl_context"] = ctx
    if settings.security_protocol.startswith("SASL_"):
        if settings.sasl_mechanism is None:
            raise ConfigError(f"kafka.sasl_mechanism is required with {settings.security_protocol}")
        kwargs["sasl_mechanism"] = settings.sasl_mechanism
        if settings.sasl_mechanism != "OAUTHBEARER":
            if settings.sasl_username is None or settings.sasl_password is None:
                raise ConfigError(
                    f"kafka.sasl_username and kafka.sasl_password are required with {settings.sasl_mechanism}"
                )
            kwargs["sasl_plain_username"] = settings.sasl_username
            kwargs["sasl_plain_password"] = settings.sasl_password.get_secret_value()
    return kwargs


def producer_kwargs(settings: KafkaSettings) -> dict[str, Any]:
    """``AIOKafkaProducer`` arguments (connection and security only; add tuning yourself)."""
    return common_kwargs(settings)


def consumer_kwargs(settings: KafkaSettings) -> dict[str, Any]:
    """``AIOKafkaConsumer`` arguments (connection and security only; add group_id etc.)."""
    return common_kwargs(settings)


def admin_kwargs(settings: KafkaSettings) -> dict[str, Any]:
    """``AIOKafkaAdminClient`` arguments."""
    return common_kwargs(settings)


def faust_broker_kwargs(settings: KafkaSettings) -> dict[str, Any]:
    """``faust.App`` arguments: ``broker`` URL(s), ``broker_credentials`` and ``ssl_context``.

    Usage: ``faust.App("lightkeeper-worker", **faust_broker_kwargs(settings.kafka), ...)``.
    """
    hosts = [h.strip() for h in settings.bootstrap_servers.split(",") if h.strip()]
    kwargs: dict[str, Any] = {"broker": ";".join(f"kafka://{h}" for h in hosts)}
    ctx = ssl_context(settings)
    protocol = settings.security_protocol
    if protocol.startswith("SASL_"):
        import faust

        common = common_kwargs(settings)
        mechanism = settings.sasl_mechanism
        if mechanism == "OAUTHBEARER":
            raise ConfigError("kafka.sasl_mechanism OAUTHBEARER is not supported for the faust worker")
        kwargs["broker_credentials"] = faust.SASLCredentials(
            username=common["sasl_plain_username"],
            password=common["sasl_plain_password"],
            ssl_context=ctx,
            mechanism=mechanism,
        )
    elif ctx is not None:
        import faust

        kwargs["broker_credentials"] = faust.SSLCredentials(ctx)
    return kwargs
