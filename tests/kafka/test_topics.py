"""Topic administration against the real broker: creation from settings, idempotence."""

from __future__ import annotations

import logging

import pytest

from lightkeeper.errors import KafkaError
from lightkeeper.kafka.topics import (
    TOPICS,
    describe_topic_configs,
    ensure_topics,
    ensure_topics_async,
    list_topics,
    list_topics_async,
)
from lightkeeper.settings import KafkaSettings


def test_topic_names_follow_prefix():
    settings = KafkaSettings(topic_prefix="acme.")
    assert TOPICS == ("events", "scores", "drift", "anomalies", "alerts", "dead-letters")
    assert settings.topic(TOPICS[0]) == "acme.events"


async def test_ensure_topics_creates_all_with_configured_partitions_and_configs(kafka_settings):
    settings = kafka_settings.model_copy(
        update={"partitions": 4, "retention_ms": 123_456_789, "compression_type": "zstd"}
    )
    names = await ensure_topics_async(settings)
    assert names == [settings.topic(t) for t in TOPICS]
    existing = await list_topics_async(settings)
    assert {n: existing[n] for n in names} == dict.fromkeys(names, 4)
    configs = await describe_topic_configs(settings, settings.topic("events"))
    assert configs["retention.ms"] == "123456789"
    assert configs["compression.type"] == "zstd"


def test_ensure_topics_is_idempotent_and_leaves_existing_alone(kafka_settings, caplog):
    first = ensure_topics(kafka_settings)
    assert first == [kafka_settings.topic(t) for t in TOPICS]
    before = list_topics(kafka_settings)
    wider = kafka_settings.model_copy(update={"partitions": 5})
    with caplog.at_level(logging.WARNING, logger="lightkeeper.kafka.topics"):
        assert ensure_topics(wider) == first
    after = list_topics(kafka_settings)
    assert {n: after[n] for n in first} == {n: before[n] for n in first} == dict.fromkeys(first, 3)
    warned = [r.getMessage() for r in caplog.records if "partitions" in r.getMessage()]
    assert len(warned) == len(TOPICS)
    assert "configured: 5" in warned[0]


async def test_ensure_topics_subset_and_called_from_running_loop(kafka_settings):
    # the blocking variant also works inside a running event loop (it uses its own thread)
    assert ensure_topics(kafka_settings, ["events"]) == [kafka_settings.topic("events")]
    names = set(list_topics(kafka_settings))
    assert kafka_settings.topic("events") in names
    assert kafka_settings.topic("scores") not in names


def test_invalid_topic_config_is_a_kafka_error(kafka_settings):
    bad = kafka_settings.model_copy(update={"replication_factor": 3})  # one broker only
    with pytest.raises(KafkaError, match=r"InvalidReplicationFactor|replication"):
        ensure_topics(bad, ["events"])


def test_unreachable_cluster_is_a_kafka_error():
    from lightkeeper.kafka._proc import free_port

    settings = KafkaSettings(bootstrap_servers=f"127.0.0.1:{free_port()}")
    with pytest.raises(KafkaError, match="failed"):
        ensure_topics(settings, timeout_s=3)


def test_cli_topics_create_and_list(kafka_settings, capsys):
    from lightkeeper.cli.main import main

    argv = ["topics", "create", "--bootstrap", kafka_settings.bootstrap_servers, "--prefix", "cli-x."]
    assert main([*argv, "--partitions", "2", "events", "alerts"]) == 0
    assert capsys.readouterr().out.split() == ["cli-x.events", "cli-x.alerts"]
    assert main(["topics", "list", "--bootstrap", kafka_settings.bootstrap_servers]) == 0
    listed = dict(line.split("\t") for line in capsys.readouterr().out.splitlines())
    assert listed["cli-x.events"] == listed["cli-x.alerts"] == "2"
    assert "cli-x.scores" not in listed
    assert main([*argv, "bogus"]) == 1
    assert "unknown topic name" in capsys.readouterr().err
