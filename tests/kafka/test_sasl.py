"""Security settings reach the wire: a private broker with a SASL/PLAIN listener accepts our
clients configured only through KafkaSettings, and rejects a wrong password."""

from __future__ import annotations

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from pydantic import SecretStr

from lightkeeper.errors import KafkaError
from lightkeeper.kafka._proc import free_port
from lightkeeper.kafka.client import consumer_kwargs, producer_kwargs
from lightkeeper.kafka.devbroker import DevBroker
from lightkeeper.kafka.topics import ensure_topics_async, list_topics_async
from lightkeeper.settings import KafkaSettings


@pytest.fixture
def sasl_broker(private_dir):
    port, controller, sasl = free_port(), free_port(), free_port()
    jaas = 'org.apache.kafka.common.security.plain.PlainLoginModule required user_lk="s3cret";'
    broker = DevBroker(
        private_dir / "sasl",
        port=port,
        controller_port=controller,
        overrides={
            "listeners": f"PLAINTEXT://127.0.0.1:{port},CONTROLLER://127.0.0.1:{controller},"
            f"SASL_PLAINTEXT://127.0.0.1:{sasl}",
            "advertised.listeners": f"PLAINTEXT://127.0.0.1:{port},SASL_PLAINTEXT://127.0.0.1:{sasl}",
            "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT,"
            "SASL_PLAINTEXT:SASL_PLAINTEXT",
            "sasl.enabled.mechanisms": "PLAIN",
            "listener.name.sasl_plaintext.plain.sasl.jaas.config": jaas,
        },
    )
    broker.start()
    try:
        yield f"127.0.0.1:{sasl}"
    finally:
        broker.stop()


async def test_sasl_plain_end_to_end(sasl_broker, monkeypatch):
    from lightkeeper.settings import LightkeeperSettings

    monkeypatch.setenv("LIGHTKEEPER_KAFKA__BOOTSTRAP_SERVERS", sasl_broker)
    monkeypatch.setenv("LIGHTKEEPER_KAFKA__SECURITY_PROTOCOL", "SASL_PLAINTEXT")
    monkeypatch.setenv("LIGHTKEEPER_KAFKA__SASL_MECHANISM", "PLAIN")
    monkeypatch.setenv("LIGHTKEEPER_KAFKA__SASL_USERNAME", "lk")
    monkeypatch.setenv("LIGHTKEEPER_KAFKA__SASL_PASSWORD", "s3cret")
    monkeypatch.setenv("LIGHTKEEPER_KAFKA__PARTITIONS", "2")
    settings = LightkeeperSettings.load().kafka

    names = await ensure_topics_async(settings, ["events"])
    assert (await list_topics_async(settings))[names[0]] == 2

    producer = AIOKafkaProducer(**producer_kwargs(settings))
    await producer.start()
    try:
        await producer.send_and_wait(names[0], b"secured", key=b"k", headers=[("h", b"v")])
    finally:
        await producer.stop()
    consumer = AIOKafkaConsumer(
        names[0], **consumer_kwargs(settings), group_id="sasl-g", auto_offset_reset="earliest"
    )
    await consumer.start()
    try:
        msg = await consumer.getone()
    finally:
        await consumer.stop()
    assert (msg.key, msg.value, msg.headers) == (b"k", b"secured", (("h", b"v"),))

    wrong = settings.model_copy(update={"sasl_password": SecretStr("nope")})
    with pytest.raises(KafkaError):
        await ensure_topics_async(wrong, ["scores"], timeout_s=5)
    plaintext = KafkaSettings(bootstrap_servers=sasl_broker)  # no SASL against a SASL listener
    with pytest.raises(KafkaError):
        await list_topics_async(plaintext, timeout_s=5)
