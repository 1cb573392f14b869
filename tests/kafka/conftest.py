"""Fixtures of the Kafka tests."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest


@pytest.fixture
def private_dir() -> Iterator[Path]:
    """A temp dir outside pytest's basetemp: concurrent pytest sessions of the same user prune
    each other's old basetemps (only the last 3 are kept), which would delete a running
    broker's data under ``tmp_path``."""
    path = Path(tempfile.mkdtemp(prefix="lightkeeper-kafka-test-"))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)
