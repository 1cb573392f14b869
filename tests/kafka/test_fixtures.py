"""The pytest fixtures themselves: reuse of an external broker, failures are errors (never
skips), unique names."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

from lightkeeper.kafka._proc import free_port

INNER = textwrap.dedent(
    """
    import os
    from lightkeeper.kafka import devbroker

    def test_inner(kafka_bootstrap, kafka_settings, unique_topic):
        assert kafka_bootstrap == os.environ["LIGHTKEEPER_KAFKA_BOOTSTRAP"]
        assert kafka_settings.bootstrap_servers == kafka_bootstrap
        unique_topic("inner")
        assert not devbroker._LIVE, "no broker may be started when one is given"
    """
)


def run_inner(private_dir, bootstrap: str) -> subprocess.CompletedProcess[str]:
    (private_dir / "test_inner.py").write_text(INNER)
    tests_dir = str(Path(__file__).resolve().parents[1])  # where the _support plugins live
    env = {
        **os.environ,
        "LIGHTKEEPER_KAFKA_BOOTSTRAP": bootstrap,
        "PYTHONPATH": os.pathsep.join(p for p in (tests_dir, os.environ.get("PYTHONPATH")) if p),
    }
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "_support.kafka_fixtures",
            "-p",
            "no:cacheprovider",
            f"--basetemp={private_dir / 'basetemp'}",  # never prune other sessions' basetemps
            str(private_dir / "test_inner.py"),
        ],
        capture_output=True,
        text=True,
        env=env,
        cwd=private_dir,
        timeout=120,
    )


def test_external_broker_from_env_is_reused(kafka_bootstrap, private_dir):
    result = run_inner(private_dir, kafka_bootstrap)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 passed" in result.stdout


def test_unreachable_external_broker_is_an_error_not_a_skip(private_dir):
    result = run_inner(private_dir, f"127.0.0.1:{free_port()}")
    assert result.returncode == 1
    assert "1 error" in result.stdout
    assert "skipped" not in result.stdout
    assert "does not answer as a Kafka broker" in result.stdout


def test_unique_names(unique_topic, unique_group, request):
    topics = {unique_topic(create=False) for _ in range(50)}
    groups = {unique_group() for _ in range(50)}
    assert len(topics) == len(groups) == 50
    for name in topics | groups:
        assert re.fullmatch(r"[A-Za-z0-9._-]{1,249}", name)
    assert unique_topic("events", create=False).startswith("events.test-unique-names.")
    assert "kafka" in [m.name for m in request.node.iter_markers()]
