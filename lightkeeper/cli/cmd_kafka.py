"""``lightkeeper dev kafka up|down|status|resolve`` and ``lightkeeper topics create|list``."""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
from pathlib import Path
from typing import Any

from lightkeeper.errors import ConfigError
from lightkeeper.kafka.distribution import DEFAULT_KAFKA_VERSION


def _settings(args: argparse.Namespace, **flags: Any) -> Any:
    from lightkeeper.settings import LightkeeperSettings

    return LightkeeperSettings.load(getattr(args, "config", None), **flags)


def _default_port(args: argparse.Namespace) -> int:
    """The port of a single loopback ``kafka.bootstrap_servers`` entry, else 9092."""
    servers = _settings(args).kafka.bootstrap_servers
    if "," not in servers and ":" in servers:
        host, _, port = servers.rpartition(":")
        if host in ("127.0.0.1", "localhost") and port.isdigit():
            return int(port)
    return 9092


def _data_dir(args: argparse.Namespace) -> Path:
    if args.data_dir:
        return Path(args.data_dir)
    return Path(_settings(args).data_dir) / "kafka"


def _broker(args: argparse.Namespace, detach: bool) -> Any:
    from lightkeeper.kafka.devbroker import DevBroker

    port = args.port or _default_port(args)
    return DevBroker(
        _data_dir(args),
        port=port,
        controller_port=args.controller_port or port + 1,
        version=args.kafka_version,
        heap_mb=args.heap_mb,
        detach=detach,
    )


def run_up(args: argparse.Namespace) -> int:
    from lightkeeper.kafka.devbroker import broker_status

    status = broker_status(_data_dir(args))
    if status.running:
        print(f"Kafka already running on {status.bootstrap} (pid {status.pid}, ready={status.ready})")
        return 0
    broker = _broker(args, detach=not args.foreground)
    took = broker.start(timeout_s=args.timeout)
    stop = threading.Event()
    if args.foreground:  # before announcing readiness, so an early Ctrl-C still stops cleanly
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda *_: stop.set())
    print(
        f"Kafka {broker.version} ready on {broker.bootstrap} in {took:.1f}s "
        f"(pid {broker.pid}; data {broker.data_dir}; log {broker.log_file})",
        flush=True,
    )
    if not args.foreground:
        print(f"export LIGHTKEEPER_KAFKA__BOOTSTRAP_SERVERS={broker.bootstrap}")
        return 0
    try:
        while not stop.wait(1.0):
            if not broker.is_running():
                print("Kafka exited", file=sys.stderr)
                return 1
    finally:
        broker.stop()
    return 0


def run_down(args: argparse.Namespace) -> int:
    from lightkeeper.kafka.devbroker import stop_from_pid_file

    pid = stop_from_pid_file(_data_dir(args), timeout_s=args.timeout)
    print(f"Kafka (pid {pid}) stopped" if pid else "Kafka was not running")
    return 0


def run_status(args: argparse.Namespace) -> int:
    from lightkeeper.kafka.devbroker import broker_status

    status = broker_status(_data_dir(args))
    if args.json:
        print(
            json.dumps(
                {
                    "running": status.running,
                    "ready": status.ready,
                    "pid": status.pid,
                    "bootstrap": status.bootstrap,
                    "version": status.version,
                    "data_dir": str(status.data_dir),
                }
            )
        )
    elif status.running:
        print(
            f"Kafka {status.version} running on {status.bootstrap} (pid {status.pid}), "
            f"{'ready' if status.ready else 'NOT ready'}"
        )
    else:
        print(f"Kafka is not running (data dir {status.data_dir})")
    return 0 if status.running and status.ready else 3


def run_resolve(args: argparse.Namespace) -> int:
    from lightkeeper.kafka.distribution import resolve

    dist = resolve(args.kafka_version)
    print(f"Kafka {dist.version}: {len(dist.jars)} jars in {dist.libs}")
    return 0


def _topic_settings(args: argparse.Namespace) -> Any:
    return _settings(
        args,
        kafka__bootstrap_servers=args.bootstrap,
        kafka__topic_prefix=getattr(args, "prefix", None),
        kafka__partitions=getattr(args, "partitions", None),
        kafka__replication_factor=getattr(args, "replication_factor", None),
        kafka__retention_ms=getattr(args, "retention_ms", None),
        kafka__compression_type=getattr(args, "compression", None),
    ).kafka


def run_topics_create(args: argparse.Namespace) -> int:
    from lightkeeper.kafka.topics import TOPICS, ensure_topics

    settings = _topic_settings(args)
    names = args.names or list(TOPICS)
    unknown = [n for n in names if n not in TOPICS]
    if unknown:
        raise ConfigError(f"unknown topic name(s) {unknown}; known: {', '.join(TOPICS)}")
    for name in ensure_topics(settings, names):
        print(name)
    return 0


def run_topics_list(args: argparse.Namespace) -> int:
    from lightkeeper.kafka.topics import list_topics

    for name, partitions in sorted(list_topics(_topic_settings(args)).items()):
        print(f"{name}\t{partitions}")
    return 0


def register(subparsers: Any) -> None:
    dev = subparsers.add_parser("dev", help="development helpers (local Kafka broker)")
    dev_sub = dev.add_subparsers(dest="dev_command", metavar="TOOL", required=True)
    kafka = dev_sub.add_parser("kafka", help="a local single-node Apache Kafka 4.x (KRaft) broker")
    ksub = kafka.add_subparsers(dest="kafka_command", metavar="ACTION", required=True)

    def common(p: argparse.ArgumentParser) -> None:
        p.add_argument("--data-dir", help="broker data directory (default: <data_dir>/kafka)")
        p.add_argument("--timeout", type=float, default=90.0, help="seconds to wait (default 90)")

    up = ksub.add_parser("up", help="download (once), format and start the broker; wait until ready")
    common(up)
    up.add_argument("--port", type=int, help="client port (default: from kafka.bootstrap_servers, else 9092)")
    up.add_argument("--controller-port", type=int, help="KRaft controller port (default: port + 1)")
    up.add_argument(
        "--kafka-version",
        default=DEFAULT_KAFKA_VERSION,
        help=f"Kafka version from Maven Central (default {DEFAULT_KAFKA_VERSION})",
    )
    up.add_argument("--heap-mb", type=int, default=512, help="JVM heap limit in MB (default 512)")
    up.add_argument("--foreground", action="store_true", help="stay attached; stop the broker on Ctrl-C")
    up.set_defaults(handler=run_up)
    down = ksub.add_parser("down", help="stop the broker (SIGTERM, then SIGKILL after --timeout)")
    common(down)
    down.set_defaults(handler=run_down)
    status = ksub.add_parser("status", help="is the broker running and ready? (exit 0 if so, else 3)")
    common(status)
    status.add_argument("--json", action="store_true")
    status.set_defaults(handler=run_status)
    res = ksub.add_parser("resolve", help="only fetch the Kafka jars into the cache")
    res.add_argument("--kafka-version", default=DEFAULT_KAFKA_VERSION)
    res.set_defaults(handler=run_resolve)

    topics = subparsers.add_parser("topics", help="Lightkeeper's Kafka topics")
    tsub = topics.add_subparsers(dest="topics_command", metavar="ACTION", required=True)
    create = tsub.add_parser("create", help="create missing topics from configuration (idempotent)")
    create.add_argument("names", nargs="*", help="short names (default: all Lightkeeper topics)")
    create.add_argument("--partitions", type=int)
    create.add_argument("--replication-factor", type=int)
    create.add_argument("--retention-ms", type=int)
    create.add_argument("--compression", help="lz4, zstd, gzip, snappy, producer or uncompressed")
    create.add_argument("--prefix", help="topic name prefix (default: kafka.topic_prefix)")
    create.set_defaults(handler=run_topics_create)
    lst = tsub.add_parser("list", help="list topics with partition counts")
    lst.set_defaults(handler=run_topics_list)
    for p in (create, lst):
        p.add_argument("--bootstrap", help="bootstrap servers (default: kafka.bootstrap_servers)")
