"""Configuration files of the single-node development broker (KRaft combined mode)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

#: Test-friendly defaults: one node, no automatic topic creation, no rebalance delay, small
#: internal topics and short retention. Callers may override any key.
TEST_FRIENDLY: dict[str, str] = {
    "auto.create.topics.enable": "false",
    "delete.topic.enable": "true",
    "num.partitions": "1",
    "default.replication.factor": "1",
    "min.insync.replicas": "1",
    "offsets.topic.replication.factor": "1",
    "offsets.topic.num.partitions": "4",
    "transaction.state.log.replication.factor": "1",
    "transaction.state.log.min.isr": "1",
    "transaction.state.log.num.partitions": "4",
    "share.coordinator.state.topic.replication.factor": "1",
    "share.coordinator.state.topic.min.isr": "1",
    "group.initial.rebalance.delay.ms": "0",
    "log.retention.ms": str(6 * 3600 * 1000),
    "log.retention.check.interval.ms": "60000",
    "log.segment.bytes": str(64 * 1024 * 1024),
    "log.cleaner.dedupe.buffer.size": str(8 * 1024 * 1024),
    "log.cleaner.threads": "1",
    "num.network.threads": "2",
    "num.io.threads": "4",
    "num.recovery.threads.per.data.dir": "1",
    "background.threads": "4",
}


def server_properties(
    *,
    host: str,
    port: int,
    controller_port: int,
    log_dir: Path,
    node_id: int = 1,
    overrides: Mapping[str, str] | None = None,
) -> str:
    """``server.properties`` for a combined broker+controller listening on ``host``."""
    props: dict[str, str] = {
        "process.roles": "broker,controller",
        "node.id": str(node_id),
        # Static voters: the quorum comes from configuration, so ports may change between runs.
        "controller.quorum.voters": f"{node_id}@{host}:{controller_port}",
        "listeners": f"PLAINTEXT://{host}:{port},CONTROLLER://{host}:{controller_port}",
        "advertised.listeners": f"PLAINTEXT://{host}:{port},CONTROLLER://{host}:{controller_port}",
        "controller.listener.names": "CONTROLLER",
        "inter.broker.listener.name": "PLAINTEXT",
        "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
        "log.dirs": str(log_dir),
        **TEST_FRIENDLY,
        **(overrides or {}),
    }
    return "".join(f"{k}={v}\n" for k, v in props.items())


def log4j2_properties(log_file: Path, level: str = "INFO") -> str:
    """log4j2 configuration sending every broker log line to ``log_file`` (nothing to stdout)."""
    return (
        "status = warn\n"
        "appender.file.type = File\n"
        "appender.file.name = FILE\n"
        f"appender.file.fileName = {log_file}\n"
        "appender.file.layout.type = PatternLayout\n"
        "appender.file.layout.pattern = [%d] %p %m (%c)%n\n"
        f"rootLogger.level = {level}\n"
        "rootLogger.appenderRef.file.ref = FILE\n"
        "logger.kafka.name = kafka\n"
        f"logger.kafka.level = {level}\n"
        "logger.state.name = state.change.logger\n"
        "logger.state.level = WARN\n"
        "logger.request.name = kafka.request.logger\n"
        "logger.request.level = WARN\n"
    )
