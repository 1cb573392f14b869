"""pytest fixtures giving tests a real Apache Kafka broker (pytest plugin).

- ``kafka_bootstrap`` (session): ``"host:port"`` of a single-node Kafka 4.x broker that the test
  session starts on free loopback ports in a temporary directory and stops at the end, or of the
  broker named by ``$LIGHTKEEPER_KAFKA_BOOTSTRAP`` (then nothing is started). If the broker
  cannot be started the tests using it fail with the reason; they are never skipped.
- ``kafka_settings``: :class:`KafkaSettings` pointing at it, with a unique ``topic_prefix`` per
  test (3 partitions, replication 1).
- ``unique_topic``: ``unique_topic(prefix="t", *, partitions=1, create=True, configs=None)``
  returns a fresh topic name, created on the session broker unless ``create=False`` (automatic
  topic creation is off on the test broker).
- ``unique_group``: ``unique_group(prefix="g")`` returns a fresh consumer group id.
- ``kafka_broker_factory``: ``kafka_broker_factory(**DevBroker kwargs)`` starts a private broker
  (own ports and data dir) and returns the :class:`DevBroker`; ``.stop()`` / ``.start()`` keep
  its port and data. Every broker it made is stopped after the test.

Tests using any of these get the ``kafka`` marker, so ``-m "not kafka"`` deselects them.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from lightkeeper.errors import KafkaError
from lightkeeper.kafka._sync import probe, run_sync
from lightkeeper.kafka.devbroker import BrokerPortInUse, DevBroker
from lightkeeper.settings import KafkaSettings

ENV_BOOTSTRAP = "LIGHTKEEPER_KAFKA_BOOTSTRAP"
_KAFKA_FIXTURES = {"kafka_bootstrap", "kafka_settings", "unique_topic", "kafka_broker_factory"}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if _KAFKA_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.kafka)


def start_private_broker(root: Path, attempts: int = 3, **kwargs: Any) -> DevBroker:
    """Start a broker on free ports under ``root``; retries with new ports if one was taken."""
    last: Exception | None = None
    for attempt in range(attempts):
        broker = DevBroker.ephemeral(root / f"broker-{attempt}", **kwargs)
        try:
            broker.start()
            return broker
        except BrokerPortInUse as exc:  # another session grabbed the port in between
            last = exc
    raise KafkaError(f"could not start a Kafka broker after {attempts} attempts: {last}")


@pytest.fixture(scope="session")
def kafka_bootstrap() -> Iterator[str]:
    """Bootstrap address of the session's Kafka broker (started here unless given by env)."""
    external = os.environ.get(ENV_BOOTSTRAP)
    if external:
        if not probe(external, 10.0):
            raise KafkaError(f"{ENV_BOOTSTRAP}={external} does not answer as a Kafka broker")
        yield external
        return
    root = Path(tempfile.mkdtemp(prefix="lightkeeper-kafka-"))
    try:
        broker = start_private_broker(root)
    except BaseException:
        shutil.rmtree(root, ignore_errors=True)
        raise
    try:
        yield broker.bootstrap
    finally:
        broker.stop()
        shutil.rmtree(root, ignore_errors=True)


def _slug(request: pytest.FixtureRequest) -> str:
    name = re.sub(r"[^A-Za-z0-9]+", "-", request.node.name).strip("-").lower()
    return name[:40] or "test"


@pytest.fixture
def kafka_settings(kafka_bootstrap: str, request: pytest.FixtureRequest) -> KafkaSettings:
    """Settings for the session broker; topics of this test are ``lk-<test>-<random>.<name>``."""
    return KafkaSettings(
        bootstrap_servers=kafka_bootstrap,
        client_id=f"lightkeeper-test-{_slug(request)}",
        topic_prefix=f"lk-{_slug(request)}-{uuid.uuid4().hex[:8]}.",
        partitions=3,
        replication_factor=1,
        retention_ms=3_600_000,
    )


@pytest.fixture
def unique_topic(request: pytest.FixtureRequest) -> Callable[..., str]:
    """Factory of fresh topic names; creates the topic on the session broker by default."""

    def make(
        prefix: str = "t", *, partitions: int = 1, create: bool = True, configs: dict[str, str] | None = None
    ) -> str:
        name = f"{prefix}.{_slug(request)}.{uuid.uuid4().hex[:10]}"
        if create:
            from lightkeeper.kafka.topics import create_topics_async

            bootstrap: str = request.getfixturevalue("kafka_bootstrap")
            settings = KafkaSettings(bootstrap_servers=bootstrap)
            run_sync(lambda: create_topics_async(settings, {name: partitions}, configs=configs), 60)
        return name

    return make


@pytest.fixture
def unique_group(request: pytest.FixtureRequest) -> Callable[..., str]:
    """Factory of fresh consumer group ids."""

    def make(prefix: str = "g") -> str:
        return f"{prefix}.{_slug(request)}.{uuid.uuid4().hex[:10]}"

    return make


@pytest.fixture
def kafka_broker_factory() -> Iterator[Callable[..., DevBroker]]:
    """Factory starting private, restartable brokers; all are stopped after the test."""
    roots: list[Path] = []
    brokers: list[DevBroker] = []

    def make(**kwargs: Any) -> DevBroker:
        root = Path(tempfile.mkdtemp(prefix="lightkeeper-kafka-private-"))
        roots.append(root)
        broker = start_private_broker(root, **kwargs)
        brokers.append(broker)
        return broker

    try:
        yield make
    finally:
        for broker in brokers:
            broker.stop()
        for root in roots:
            shutil.rmtree(root, ignore_errors=True)
