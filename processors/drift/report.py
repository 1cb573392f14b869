"""Evidently HTML drift reports, built off the hot path.

A report compares a reference and a current frame with evidently's ``Report`` and
``DataDriftPreset`` (column drift of every metadata feature) and, for embedding drift, the first
principal components of the embeddings (fit on the reference) as extra numeric columns, which
shows *along which directions* the texts moved. Evidently's own ``EmbeddingsDrift`` metric
computes a t-SNE on every run (measured: ~100 s for 1,000 vs 300 rows on the dev box), so it is
only added on demand for a subsample (``tsne_rows``).

:class:`ReportWriter` runs jobs on one background thread with a bounded queue: the stream never
waits for a report; when the queue is full the job is dropped (and the caller counts it).
"""

from __future__ import annotations

import logging
import re
import threading
from collections import Counter
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from lightkeeper.errors import ConfigError

if TYPE_CHECKING:
    import pandas as pd

    from lightkeeper.processors.drift.config import DriftConfig
    from lightkeeper.processors.drift.windows import Samples

log = logging.getLogger(__name__)

N_COMPONENTS = 5


@dataclass
class ReportJob:
    """What one report needs. Frames hold metadata columns and, optionally, an ``embedding``
    column of float32 vectors (one per row)."""

    drift_id: str
    app: str
    model: str
    key: str
    target: str
    reference: pd.DataFrame
    current: pd.DataFrame
    numeric: list[str] = field(default_factory=list)
    categorical: list[str] = field(default_factory=list)
    tsne_rows: int = 0
    """> 0 adds evidently's EmbeddingsDrift (t-SNE) on at most this many rows per side."""


def frame_from_samples(samples: Samples, idx: np.ndarray, cfg: DriftConfig, emb: str | None) -> pd.DataFrame:
    """A report frame from window rows ``idx``; ``emb`` = ``"prompt"``/``"response"``/None."""
    import pandas as pd

    from lightkeeper.processors.drift.windows import dequantize

    data: dict[str, Any] = {name: samples.num[idx, j] for j, name in enumerate(cfg.numeric_features)}
    for j, name in enumerate(cfg.categorical_features):
        data[name] = [samples.cat[int(i)][j] for i in idx]
    frame = pd.DataFrame(data)
    if emb is not None:
        ok = getattr(samples, f"{emb}_ok")[idx]
        vectors = dequantize(getattr(samples, emb)[idx])
        frame["embedding"] = [v if good else None for v, good in zip(vectors, ok, strict=True)]
    return frame


def safe_name(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._=-]+", "_", text)[:80] or "_"


def report_path(reports_dir: Path, job: ReportJob) -> Path:
    parts = [safe_name(job.app), safe_name(job.model)]
    if job.key:
        parts.append(safe_name(job.key))
    return reports_dir.joinpath(*parts, f"{safe_name(job.target)}-{job.drift_id}.html")


def _embedding_columns(ref: pd.DataFrame, cur: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame, list[str]]:
    """Replace the ``embedding`` column by its first principal components (fit on reference)."""
    from sklearn.decomposition import PCA

    if "embedding" not in ref.columns:
        return ref, cur, []
    ref_ok = ref["embedding"].notna().to_numpy()
    cur_ok = cur["embedding"].notna().to_numpy()
    ref = ref.drop(columns=["embedding"]).assign(_emb=ref["embedding"])
    cur = cur.drop(columns=["embedding"]).assign(_emb=cur["embedding"])
    if ref_ok.sum() <= N_COMPONENTS or cur_ok.sum() == 0:
        return ref.drop(columns=["_emb"]), cur.drop(columns=["_emb"]), []
    r = np.stack(ref.loc[ref_ok, "_emb"].to_list())
    c = np.stack(cur.loc[cur_ok, "_emb"].to_list())
    pca = PCA(n_components=N_COMPONENTS, random_state=0).fit(r)
    names = [f"embedding_pc{i + 1}" for i in range(N_COMPONENTS)]
    for frame, ok, mat in ((ref, ref_ok, r), (cur, cur_ok, c)):
        comps = np.full((len(frame), N_COMPONENTS), np.nan)
        comps[ok] = pca.transform(mat)
        for i, name in enumerate(names):
            frame[name] = comps[:, i]
    return ref.drop(columns=["_emb"]), cur.drop(columns=["_emb"]), names


def render_html(job: ReportJob) -> str:
    """Run the evidently report and return its HTML (slow: seconds; call off the hot path)."""
    from evidently import DataDefinition, Dataset, Report
    from evidently.presets import DataDriftPreset

    ref, cur, pcs = _embedding_columns(job.reference, job.current)
    tsne: list[Any] = []
    tsne_cols: list[str] = []
    if job.tsne_rows > 0 and "embedding" in job.reference.columns:
        from evidently.metrics import EmbeddingsDrift

        ref, cur, tsne_cols = _add_raw_embeddings(job, ref, cur)
        tsne = [EmbeddingsDrift(embeddings_name="embedding")] if tsne_cols else []
    numeric = [c for c in job.numeric if c in ref.columns and ref[c].notna().any() and cur[c].notna().any()]
    categorical = [
        c for c in job.categorical if c in ref.columns and ref[c].notna().any() and cur[c].notna().any()
    ]
    columns = numeric + categorical + pcs
    if not columns and not tsne:
        raise ConfigError("nothing to report: no metadata feature or embedding has values on both sides")
    for c in categorical:
        ref[c] = ref[c].fillna("none").astype(str)
        cur[c] = cur[c].fillna("none").astype(str)
    definition = DataDefinition(
        numerical_columns=numeric + pcs,
        categorical_columns=categorical,
        embeddings={"embedding": tsne_cols} if tsne_cols else None,
    )
    report = Report([DataDriftPreset(columns=columns), *tsne] if columns else tsne)
    snapshot = report.run(
        current_data=Dataset.from_pandas(cur, data_definition=definition),
        reference_data=Dataset.from_pandas(ref, data_definition=definition),
    )
    html: str = snapshot.get_html_str(as_iframe=False)
    return html


def _add_raw_embeddings(
    job: ReportJob, ref: pd.DataFrame, cur: pd.DataFrame
) -> tuple[pd.DataFrame, pd.DataFrame, list[str]]:
    import pandas as pd

    frames = []
    for src, dst in ((job.reference, ref), (job.current, cur)):
        vec = src["embedding"]
        ok = vec.notna().to_numpy()
        rows = np.flatnonzero(ok)[: job.tsne_rows]
        mat = np.stack(vec.iloc[rows].to_list()) if rows.size else np.zeros((0, 0))
        frames.append((dst.iloc[rows].reset_index(drop=True), mat))
    dim = frames[0][1].shape[1] if frames[0][1].size else 0
    if dim == 0 or frames[1][1].size == 0:
        return ref, cur, []
    cols = [f"emb_{i}" for i in range(dim)]
    out = [pd.concat([f, pd.DataFrame(m, columns=cols)], axis=1) for f, m in frames]
    return out[0], out[1], cols


def write_report(job: ReportJob, path: Path) -> Path:
    """Render and write atomically (``.tmp`` then rename)."""
    html = render_html(job)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".html.tmp")
    tmp.write_text(html, encoding="utf-8")
    tmp.replace(path)
    return path


class ReportWriter:
    """One background thread writing reports under ``reports_dir``; at most ``max_pending``
    jobs queued or running. ``counters``: written, failed, dropped."""

    def __init__(self, reports_dir: Path | str, max_pending: int = 4) -> None:
        self.reports_dir = Path(reports_dir)
        self.max_pending = max_pending
        self.counters: Counter[str] = Counter()
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="lk-drift-report")
        self._lock = threading.Lock()
        self._pending: set[Future[Path]] = set()

    def submit(self, job: ReportJob) -> Path | None:
        """Queue a job; returns the path the report will have, or None when the queue is full."""
        path = report_path(self.reports_dir, job)
        with self._lock:
            if len(self._pending) >= self.max_pending:
                self.counters["dropped"] += 1
                return None
            fut = self._pool.submit(write_report, job, path)
            self._pending.add(fut)
        fut.add_done_callback(self._done)
        return path

    def _done(self, fut: Future[Path]) -> None:
        with self._lock:
            self._pending.discard(fut)
        exc = fut.exception()
        if exc is None:
            self.counters["written"] += 1
        else:
            self.counters["failed"] += 1
            log.error("drift report failed: %s", exc)

    def pending(self) -> int:
        with self._lock:
            return len(self._pending)

    def close(self, timeout: float | None = 30.0) -> None:
        """Wait up to ``timeout`` for queued reports, then stop the thread."""
        with self._lock:
            pending = list(self._pending)
        for fut in pending:
            try:
                fut.result(timeout=timeout)
            except Exception as exc:  # already counted by _done
                log.debug("drift report ended with %s", exc)
        self._pool.shutdown(wait=timeout is not None, cancel_futures=timeout is None)
