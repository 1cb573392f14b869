"""Evidently HTML reports: rendered off the hot path on a detected drift, and on demand."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from drift_synth import SyntheticStream

from lightkeeper.processors.drift import DriftConfig, DriftMonitor
from lightkeeper.processors.drift.report import ReportJob, ReportWriter, render_html


def _job(n_ref: int = 200, n_cur: int = 80, with_embedding: bool = True) -> ReportJob:
    rng = np.random.default_rng(1)

    def side(n: int, shift: float) -> pd.DataFrame:
        df = pd.DataFrame(
            {
                "input_tokens": rng.gamma(2.0, 40.0, n) * (1 + shift),
                "finish_reason": rng.choice(["stop", "length"], n),
            }
        )
        if with_embedding:
            v = rng.normal(size=(n, 384)) + shift
            df["embedding"] = list((v / np.linalg.norm(v, axis=1, keepdims=True)).astype(np.float32))
        return df

    return ReportJob(
        drift_id="d1",
        app="app/x",
        model="m",
        key="",
        target="prompt_embedding",
        reference=side(n_ref, 0.0),
        current=side(n_cur, 0.5),
        numeric=["input_tokens"],
        categorical=["finish_reason"],
    )


def test_render_html_has_columns_and_embedding_components() -> None:
    html = render_html(_job())
    assert html.lstrip().lower().startswith("<!doctype html") or "<html" in html[:500].lower()
    for name in ("input_tokens", "finish_reason", "embedding_pc1"):
        assert name in html


def test_render_refuses_empty_input() -> None:
    from lightkeeper.errors import ConfigError

    job = _job(with_embedding=False)
    job.reference = job.reference.assign(input_tokens=np.nan, finish_reason=None)
    with pytest.raises(ConfigError, match="nothing to report"):
        render_html(job)


def test_writer_is_bounded_and_never_blocks(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import lightkeeper.processors.drift.report as rep

    gate = threading.Event()

    def slow_render(job: ReportJob) -> str:
        gate.wait(10)
        return "<html>ok</html>"

    monkeypatch.setattr(rep, "render_html", slow_render)
    writer = ReportWriter(tmp_path, max_pending=2)
    t = time.perf_counter()
    paths = [writer.submit(_job(with_embedding=False)) for _ in range(4)]
    assert time.perf_counter() - t < 1.0
    assert paths[0] is not None and paths[1] is not None
    assert paths[2] is None and paths[3] is None
    assert writer.counters["dropped"] == 2
    gate.set()
    writer.close(timeout=10)
    assert writer.counters["written"] == 2
    assert paths[0].exists() and paths[0].parent == tmp_path / "app_x" / "m"


def test_monitor_writes_report_on_detected_drift(tmp_path: Path, small_config: DriftConfig) -> None:
    cfg = small_config.model_copy(update={"reports_dir": tmp_path, "targets": ["prompt_embedding"]})
    stream = SyntheticStream(seed=5)
    mon = DriftMonitor(cfg)
    records = []
    for chunk in (stream.take(0, 450), stream.take(1, 150)):
        records += mon.observe(chunk)
    drifted = [r for r in records if r.drifted]
    assert drifted
    with_path = [r for r in drifted if r.report_path]
    assert len(with_path) == 1, "one report per drift episode (rate-limited)"
    assert mon.counters["reports_queued"] == 1
    mon.close(timeout=120)
    path = Path(with_path[0].report_path or "")
    assert path.exists() and path.stat().st_size > 10_000
    assert with_path[0].drift_id in path.name
    assert "embedding_pc1" in path.read_text(encoding="utf-8")
