"""``lightkeeper agent`` as a real process: flags, proxying, metrics, graceful shutdown to the spool."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from lightkeeper.agent.spool import Spool
from lightkeeper.cli.cmd_agent import parse_route
from lightkeeper.errors import ConfigError
from lightkeeper.schemas.codec import decode_event


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_http(url: str, timeout_s: float = 20.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise AssertionError(f"{url} did not come up")


def test_parse_route():
    assert parse_route("vllm=http://h:8000/v1") == (
        "vllm",
        {"base_url": "http://h:8000/v1", "provider": "openai"},
    )
    assert parse_route("claude=anthropic:https://x") == (
        "claude",
        {"base_url": "https://x", "provider": "anthropic"},
    )
    with pytest.raises(ConfigError):
        parse_route("nourl=ftp://x")


def test_agent_process_proxies_and_spools_on_shutdown(tmp_path: Path):
    fake_port, agent_port = _free_port(), _free_port()
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "LIGHTKEEPER_APP_NAME": "from-env"}
    fake = subprocess.Popen(
        [sys.executable, "-m", "lightkeeper.demo.fake_provider", "--port", str(fake_port)], env=env
    )
    agent = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "lightkeeper",
            "agent",
            "--port",
            str(agent_port),
            "--openai-base-url",
            f"http://127.0.0.1:{fake_port}",
            "--no-publish",
            "--spool-dir",
            str(tmp_path / "spool"),
            "--data-dir",
            str(tmp_path),
        ],
        env=env,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        _wait_http(f"http://127.0.0.1:{fake_port}/healthz")
        _wait_http(f"http://127.0.0.1:{agent_port}/healthz")
        r = httpx.post(
            f"http://127.0.0.1:{agent_port}/v1/chat/completions",
            json={"model": "m", "messages": [{"role": "user", "content": "hi"}]},
        )
        assert r.status_code == 200 and r.json()["object"] == "chat.completion"
        time.sleep(0.3)
        metrics = httpx.get(f"http://127.0.0.1:{agent_port}/metrics").text
        assert 'lightkeeper_agent_requests_total{route="/v1/chat/completions",status="200"} 1.0' in metrics
        assert "lightkeeper_agent_added_latency_seconds_bucket" in metrics
        ready = httpx.get(f"http://127.0.0.1:{agent_port}/readyz")
        assert ready.status_code == 200 and ready.json()["kafka"] is False
    finally:
        agent.send_signal(signal.SIGTERM)
        _, err = agent.communicate(timeout=30)
        fake.terminate()
        fake.wait(timeout=10)
    assert agent.returncode == 0, err[-2000:]
    spool = Spool(tmp_path / "spool", max_bytes=1 << 30)
    records, _ = spool.read(10)
    spool.close()
    assert len(records) == 1
    ev = decode_event(records[0][1])
    assert ev.app == "from-env" and ev.request_model == "m"
