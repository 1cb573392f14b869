"""The pipeline stages a worker process runs: the processors' stages (scores, drift,
anomalies) plus the alert stage."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from lightkeeper.processors.pipeline import Stage
from lightkeeper.processors.pipeline_stages import KEYED_STAGES, STAGE_NAMES
from lightkeeper.processors.pipeline_stages import build_stages as build_processor_stages


def _alert_stage(settings: Any) -> Stage | None:
    from lightkeeper.worker.alert_stage import alert_stage

    return alert_stage(settings)


def build_stages(settings: Any, names: Sequence[str] | None = None) -> list[Stage]:
    """The stages to run: ``names`` (or ``settings.stages``; None = every known stage, in the
    order of :data:`STAGE_NAMES`), each left out with a warning when its module cannot load."""
    return build_processor_stages(settings, names, factories={"alerts": _alert_stage})


__all__ = ["KEYED_STAGES", "STAGE_NAMES", "build_stages"]
