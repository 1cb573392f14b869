"""The development broker's lifecycle: restart with data, stop from another process, no strays."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import textwrap
import time

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from lightkeeper.kafka import _proc
from lightkeeper.kafka.devbroker import BrokerPortInUse, DevBroker, broker_status, read_pid_file
from lightkeeper.kafka.topics import create_topics_async
from lightkeeper.settings import KafkaSettings


def kafka_pids_for(data_dir) -> list[int]:
    out = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            cmd = _proc.proc_cmdline(int(entry))
            if "kafka.Kafka" in cmd and any(str(data_dir) in a for a in cmd) and _proc.alive(int(entry)):
                out.append(int(entry))
    return out


async def test_private_broker_restarts_on_same_port_with_its_data(kafka_broker_factory):
    broker = kafka_broker_factory()
    bootstrap = broker.bootstrap
    settings = KafkaSettings(bootstrap_servers=bootstrap)
    await create_topics_async(settings, {"persist": 1})
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", request_timeout_ms=60_000)
    await producer.start()
    try:
        await producer.send_and_wait("persist", b"before-restart", key=b"k")

        took = await broker.astop()  # the event loop keeps running while the broker stops
        assert took < 30
        assert not broker.is_running()
        assert not _proc.accepts(broker.host, broker.port)
        assert kafka_pids_for(broker.data_dir) == []
        assert read_pid_file(broker.data_dir) is None

        # a send during the outage is delivered once the broker is back on the same port
        pending = await producer.send("persist", b"during-outage", key=b"k")
        await broker.astart()
        assert broker.bootstrap == bootstrap
        await asyncio.wait_for(pending, 60)
    finally:
        await producer.stop()

    consumer = AIOKafkaConsumer("persist", bootstrap_servers=bootstrap, auto_offset_reset="earliest")
    await consumer.start()
    try:
        got = [await consumer.getone(), await consumer.getone()]
    finally:
        await consumer.stop()
    assert [(m.key, m.value) for m in got] == [(b"k", b"before-restart"), (b"k", b"during-outage")]


def test_port_in_use_is_reported_and_leaves_nothing(private_dir):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        broker = DevBroker(private_dir / "b", port=busy.getsockname()[1])
        with pytest.raises(BrokerPortInUse):
            broker.start(timeout_s=30)
    assert not broker.is_running()
    assert kafka_pids_for(broker.data_dir) == []


def test_cli_up_status_down_across_processes(private_dir):
    data = private_dir / "cli-broker"
    port = _proc.free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("LIGHTKEEPER_")}
    cli = [sys.executable, "-m", "lightkeeper"]
    common = ["--data-dir", str(data)]

    up = subprocess.run(
        [
            *cli,
            "dev",
            "kafka",
            "up",
            "--port",
            str(port),
            "--controller-port",
            str(_proc.free_port()),
            *common,
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    try:
        assert up.returncode == 0, up.stderr
        assert f"ready on 127.0.0.1:{port}" in up.stdout
        # the broker outlives the `up` process
        status = subprocess.run(
            [*cli, "dev", "kafka", "status", "--json", *common],
            capture_output=True,
            text=True,
            env=env,
            timeout=60,
        )
        assert status.returncode == 0, status.stdout + status.stderr
        assert f'"bootstrap": "127.0.0.1:{port}"' in status.stdout
        assert broker_status(data).ready
        assert len(kafka_pids_for(data)) == 1
    finally:
        down = subprocess.run(
            [*cli, "dev", "kafka", "down", *common], capture_output=True, text=True, env=env, timeout=120
        )
    assert down.returncode == 0, down.stderr
    assert "stopped" in down.stdout
    assert kafka_pids_for(data) == []
    again = subprocess.run(
        [*cli, "dev", "kafka", "status", *common], capture_output=True, text=True, env=env, timeout=60
    )
    assert again.returncode == 3
    assert "not running" in again.stdout


def test_broker_dies_with_a_killed_starter(private_dir):
    """A test session killed with SIGKILL (no atexit) leaves no stray broker behind."""
    data = private_dir / "orphan"
    script = textwrap.dedent(f"""
        import sys, time
        from lightkeeper.kafka.devbroker import DevBroker
        b = DevBroker.ephemeral({str(data)!r})
        b.start()
        print(b.pid, flush=True)
        time.sleep(600)
    """)
    starter = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    try:
        line = starter.stdout.readline()
        assert line.strip().isdigit(), "starter did not start a broker"
        java_pid = int(line)
        assert _proc.alive(java_pid)
    finally:
        starter.send_signal(signal.SIGKILL)
        starter.wait()
    deadline = time.monotonic() + 40
    while _proc.alive(java_pid) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not _proc.alive(java_pid)
    assert kafka_pids_for(data) == []


def test_cli_up_reports_a_busy_port(private_dir, capsys):
    from lightkeeper.cli.main import main

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        assert main(["dev", "kafka", "up", "--port", str(port), "--data-dir", str(private_dir / "d")]) == 1
    assert f"port 127.0.0.1:{port} is in use" in capsys.readouterr().err
    assert kafka_pids_for(private_dir / "d") == []


def test_cli_foreground_broker_stops_on_ctrl_c(private_dir):
    data = private_dir / "fg"
    env = {k: v for k, v in os.environ.items() if not k.startswith("LIGHTKEEPER_")}
    cmd = [
        sys.executable,
        "-m",
        "lightkeeper",
        "dev",
        "kafka",
        "up",
        "--foreground",
        "--data-dir",
        str(data),
        "--port",
        str(_proc.free_port()),
        "--controller-port",
        str(_proc.free_port()),
    ]
    err = private_dir / "stderr.txt"
    with err.open("w") as err_file:
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=err_file, text=True, env=env)
    try:
        line = proc.stdout.readline()
        assert "ready on" in line, err.read_text()
        assert len(kafka_pids_for(data)) == 1
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=60) == 0, err.read_text()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert kafka_pids_for(data) == []
