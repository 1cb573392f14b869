"""Lightkeeper's Kafka topics and their idempotent creation.

Topic names are ``settings.topic(name)`` (``<topic_prefix><name>``) for each name in
:data:`TOPICS`. :func:`ensure_topics` creates the missing ones with the configured partitions,
replication factor, ``retention.ms`` and ``compression.type``; topics that already exist are left
alone (a warning is logged when their partition count differs from the configuration).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable, Mapping
from typing import Any

from lightkeeper.errors import KafkaError
from lightkeeper.kafka._sync import run_sync
from lightkeeper.kafka.client import admin_kwargs
from lightkeeper.settings import KafkaSettings

log = logging.getLogger(__name__)

TOPICS: tuple[str, ...] = ("events", "scores", "drift", "anomalies", "alerts", "dead-letters")
"""Short names of Lightkeeper's topics; the full name is ``settings.topic(name)``."""

_ALREADY_EXISTS = 36


def topic_configs(settings: KafkaSettings) -> dict[str, str]:
    """Per-topic configuration applied at creation: retention and compression."""
    return {"retention.ms": str(settings.retention_ms), "compression.type": settings.compression_type}


async def ensure_topics_async(
    settings: KafkaSettings, names: Iterable[str] = TOPICS, *, timeout_s: float = 30.0
) -> list[str]:
    """Create Lightkeeper's topics that are missing; returns every full topic name, in order."""
    full = [settings.topic(n) for n in names]
    await create_topics_async(
        settings,
        {name: settings.partitions for name in full},
        replication_factor=settings.replication_factor,
        configs=topic_configs(settings),
        timeout_s=timeout_s,
    )
    return full


def ensure_topics(
    settings: KafkaSettings, names: Iterable[str] = TOPICS, *, timeout_s: float = 30.0
) -> list[str]:
    """Blocking :func:`ensure_topics_async` (usable with or without a running event loop)."""
    names = list(names)
    return run_sync(lambda: ensure_topics_async(settings, names, timeout_s=timeout_s), timeout_s + 10)


async def create_topics_async(
    settings: KafkaSettings,
    topics: Mapping[str, int],
    *,
    replication_factor: int = 1,
    configs: Mapping[str, str] | None = None,
    timeout_s: float = 30.0,
) -> list[str]:
    """Create each ``{full_name: partitions}`` that does not exist; returns the names created.

    Existing topics are left alone (logged when their partition count differs). Raises
    :class:`KafkaError` when the cluster cannot be reached or refuses a topic.
    """
    from aiokafka.admin import AIOKafkaAdminClient, NewTopic
    from aiokafka.errors import KafkaError as AIOKafkaError
    from aiokafka.errors import for_code

    admin = AIOKafkaAdminClient(**admin_kwargs(settings), request_timeout_ms=int(timeout_s * 1000))
    try:
        await asyncio.wait_for(admin.start(), timeout_s)
        existing = await _partition_counts(admin)
        for name, want in topics.items():
            have = existing.get(name)
            if have is not None and have != want:
                log.warning(
                    "topic %s exists with %d partitions (configured: %d); left as is", name, have, want
                )
        missing = [n for n in topics if n not in existing]
        if not missing:
            return []
        request = [
            NewTopic(name, topics[name], replication_factor, topic_configs=dict(configs or {}))
            for name in missing
        ]
        response = await admin.create_topics(request, timeout_ms=int(timeout_s * 1000))
        created: list[str] = []
        for item in response.topic_errors:
            name, code = item[0], item[1]
            message = item[2] if len(item) > 2 else None
            if code == 0:
                created.append(name)
            elif code != _ALREADY_EXISTS:
                raise KafkaError(f"creating topic {name} failed: {for_code(code).__name__}: {message or ''}")
        await _wait_visible(admin, created, timeout_s)
        if created:
            log.info("created topics %s", ", ".join(created))
        return created
    except (AIOKafkaError, TimeoutError, OSError) as exc:
        raise KafkaError(f"topic administration on {settings.bootstrap_servers} failed: {exc!r}") from exc
    finally:
        await admin.close()


async def list_topics_async(settings: KafkaSettings, *, timeout_s: float = 30.0) -> dict[str, int]:
    """``{topic: partition count}`` of every non-internal topic."""
    from aiokafka.admin import AIOKafkaAdminClient
    from aiokafka.errors import KafkaError as AIOKafkaError

    admin = AIOKafkaAdminClient(**admin_kwargs(settings), request_timeout_ms=int(timeout_s * 1000))
    try:
        await asyncio.wait_for(admin.start(), timeout_s)
        return await _partition_counts(admin)
    except (AIOKafkaError, TimeoutError, OSError) as exc:
        raise KafkaError(f"listing topics on {settings.bootstrap_servers} failed: {exc!r}") from exc
    finally:
        await admin.close()


def list_topics(settings: KafkaSettings, *, timeout_s: float = 30.0) -> dict[str, int]:
    """Blocking :func:`list_topics_async`."""
    return run_sync(lambda: list_topics_async(settings, timeout_s=timeout_s), timeout_s + 10)


async def describe_topic_configs(settings: KafkaSettings, topic: str) -> dict[str, str]:
    """The effective configuration of ``topic`` (``{key: value}``)."""
    from aiokafka.admin import AIOKafkaAdminClient
    from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

    admin = AIOKafkaAdminClient(**admin_kwargs(settings))
    try:
        await admin.start()
        responses = await admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, topic)])
        out: dict[str, str] = {}
        for response in responses:
            for resource in response.resources:
                for entry in resource[4]:
                    out[str(entry[0])] = str(entry[1])
        return out
    finally:
        await admin.close()


async def _partition_counts(admin: Any) -> dict[str, int]:
    topics = await admin.describe_topics()
    return {t["topic"]: len(t["partitions"]) for t in topics if not t.get("is_internal")}


async def _wait_visible(admin: Any, names: list[str], timeout_s: float) -> None:
    """Wait until new topics show up with leaders in metadata, so producers can use them at once."""
    if not names:
        return
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while loop.time() < deadline:
        topics = await admin.describe_topics(names)
        ready = {
            t["topic"]
            for t in topics
            if t["error_code"] == 0 and t["partitions"] and all(p["leader"] >= 0 for p in t["partitions"])
        }
        if ready >= set(names):
            return
        await asyncio.sleep(0.05)
    raise KafkaError(f"topics {names} not visible with leaders within {timeout_s}s")
