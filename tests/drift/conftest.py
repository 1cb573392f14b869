"""Fixtures of the drift tests (helpers live in ``drift_synth``)."""

from __future__ import annotations

import pytest
from drift_synth import SyntheticStream

from lightkeeper.processors.drift import DriftConfig


@pytest.fixture
def stream() -> SyntheticStream:
    return SyntheticStream()


@pytest.fixture
def small_config() -> DriftConfig:
    """Small windows so a test runs in seconds."""
    return DriftConfig.build(
        {
            "windows": {"reference_size": 300, "current_size": 100, "step": 25, "min_current": 50},
            "numeric_features": ["input_tokens", "output_tokens"],
            "categorical_features": ["finish_reason"],
        }
    )
