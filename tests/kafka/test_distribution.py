"""Kafka jars from Maven Central (cached) and the broker's configuration files."""

from __future__ import annotations

import json
import shutil

import pytest

from lightkeeper.errors import KafkaError
from lightkeeper.kafka import distribution
from lightkeeper.kafka._config import log4j2_properties, server_properties
from lightkeeper.kafka.distribution import (
    DEFAULT_KAFKA_VERSION,
    cached,
    find_java,
    java_major_version,
    resolve,
)


def parse(text: str) -> dict[str, str]:
    return dict(line.split("=", 1) for line in text.splitlines() if line)


def test_server_properties_are_test_friendly(tmp_path):
    props = parse(server_properties(host="127.0.0.1", port=1234, controller_port=1235, log_dir=tmp_path))
    assert props["process.roles"] == "broker,controller"
    assert props["listeners"] == "PLAINTEXT://127.0.0.1:1234,CONTROLLER://127.0.0.1:1235"
    assert props["controller.quorum.voters"] == "1@127.0.0.1:1235"
    assert props["auto.create.topics.enable"] == "false"
    assert props["group.initial.rebalance.delay.ms"] == "0"
    assert props["offsets.topic.replication.factor"] == "1"
    assert props["transaction.state.log.replication.factor"] == "1"
    assert props["transaction.state.log.min.isr"] == "1"
    assert int(props["log.retention.ms"]) <= 24 * 3600 * 1000
    assert props["log.dirs"] == str(tmp_path)
    over = parse(
        server_properties(
            host="127.0.0.1", port=1, controller_port=2, log_dir=tmp_path, overrides={"num.io.threads": "1"}
        )
    )
    assert over["num.io.threads"] == "1"


def test_log4j2_config_writes_to_the_file(tmp_path):
    text = log4j2_properties(tmp_path / "broker.log")
    assert f"appender.file.fileName = {tmp_path / 'broker.log'}" in text
    assert "Console" not in text


def test_second_resolve_needs_no_maven(monkeypatch):
    first = resolve()
    assert first.version == DEFAULT_KAFKA_VERSION
    assert any(j.startswith(f"kafka_2.13-{DEFAULT_KAFKA_VERSION}") for j in first.jars)
    assert any(j.startswith("log4j-slf4j-impl") for j in first.jars)
    monkeypatch.setenv("PATH", "/nonexistent")
    assert shutil.which("mvn") is None
    assert resolve() == first


def test_incomplete_cache_is_not_used(tmp_path):
    dist = resolve()
    home = tmp_path / DEFAULT_KAFKA_VERSION
    shutil.copytree(dist.home, home)
    assert cached(DEFAULT_KAFKA_VERSION, tmp_path) is not None
    (home / "libs" / dist.jars[0]).unlink()
    assert cached(DEFAULT_KAFKA_VERSION, tmp_path) is None
    (home / "manifest.json").write_text(json.dumps({"jars": []}))
    assert cached(DEFAULT_KAFKA_VERSION, tmp_path) is None


def test_missing_maven_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", "/nonexistent")
    with pytest.raises(KafkaError, match="mvn"):
        resolve("4.4.0", tmp_path)


def test_invalid_version_is_rejected(tmp_path):
    with pytest.raises(KafkaError, match="invalid Kafka version"):
        resolve("latest; rm -rf /", tmp_path)


def test_cache_root_honors_env(monkeypatch, tmp_path):
    monkeypatch.setenv("LIGHTKEEPER_KAFKA_HOME", str(tmp_path / "kh"))
    assert distribution.cache_root() == tmp_path / "kh"
    monkeypatch.delenv("LIGHTKEEPER_KAFKA_HOME")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert distribution.cache_root() == tmp_path / "xdg" / "lightkeeper" / "kafka"


def test_java_is_found_and_new_enough(monkeypatch, tmp_path):
    java = find_java()
    assert java_major_version(java) >= 17
    monkeypatch.setenv("LIGHTKEEPER_JAVA", str(tmp_path / "no-java"))
    assert find_java() == java  # falls back to JAVA_HOME / PATH


def test_cluster_ids_never_look_like_options():
    from lightkeeper.kafka.devbroker import new_cluster_id

    ids = [new_cluster_id() for _ in range(3000)]  # ~1 in 64 raw ids starts with "-"
    assert all(len(i) == 22 and not i.startswith("-") for i in ids)
    assert len(set(ids)) == len(ids)
