"""Drift on demand from the store: load two time ranges of one app/model from ``events_dedup``,
rebuild the drift features and compare them (``lightkeeper drift check``) or render an evidently
report (``lightkeeper drift report``).

The store does not keep embeddings: they are recomputed from the stored prompt/response text
with the shared embedder (:func:`lightkeeper.processors.embedding.get_embedder`); metadata features are
rebuilt from the stored columns exactly as :func:`~processors.drift.observation.event_metadata`
builds them on the stream. Each side is a deterministic sample of at most ``limit`` events
(ordered by ``cityHash64(event_id)``), so large ranges stay cheap.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np

from lightkeeper.errors import ConfigError
from lightkeeper.processors.drift.observation import MetadataValue, script_of

_COLUMNS = (
    "event_id, start_time, input_messages, output_text, input_tokens, output_tokens, duration_ms, "
    "cost_usd, finish_reasons, error_type, output_tool_calls, body_sampled"
)


@dataclass
class WindowData:
    """One side of an on-demand comparison: texts, metadata and (optionally) embeddings."""

    start: datetime
    end: datetime
    event_ids: list[str] = field(default_factory=list)
    times: list[datetime] = field(default_factory=list)
    prompts: list[str] = field(default_factory=list)
    responses: list[str] = field(default_factory=list)
    metadata: list[dict[str, MetadataValue]] = field(default_factory=list)
    prompt_embeddings: np.ndarray | None = None
    response_embeddings: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.event_ids)


def _last_user(messages_json: str) -> str:
    try:
        messages = json.loads(messages_json or "[]")
    except ValueError:
        return ""
    if not isinstance(messages, list):
        return ""
    contents = [m.get("content") for m in messages if isinstance(m, dict)]
    for m in reversed(messages):
        if (
            isinstance(m, dict)
            and m.get("role") == "user"
            and isinstance(m.get("content"), str)
            and m["content"]
        ):
            return str(m["content"])
    return "\n".join(c for c in contents if isinstance(c, str) and c)


def _float(value: Any) -> float | None:
    return None if value is None else float(value)


def row_metadata(row: dict[str, Any], prompt: str) -> dict[str, MetadataValue]:
    """The stream's metadata features, rebuilt from an ``events`` row."""
    sampled = bool(row.get("body_sampled", 1))
    tool_calls = row.get("output_tool_calls") or "[]"
    return {
        "input_tokens": _float(row.get("input_tokens")),
        "output_tokens": _float(row.get("output_tokens")),
        "duration_ms": _float(row.get("duration_ms")),
        "cost_usd": _float(row.get("cost_usd")),
        "prompt_chars": len(prompt) if sampled else None,
        "finish_reason": ",".join(sorted(row.get("finish_reasons") or [])) or "none",
        "error_type": row.get("error_type") or "none",
        "tool_use": "no" if tool_calls in ("", "[]") else "yes",
        "script": script_of(prompt) if sampled else None,
    }


def load_window(
    client: Any, database: str, *, app: str, model: str | None, start: datetime, end: datetime, limit: int
) -> WindowData:
    """Events of ``app`` (and ``model`` if given) with ``start <= start_time < end``."""
    from lightkeeper.store.client import check_identifier
    from lightkeeper.store.query import run_query

    if end <= start:
        raise ConfigError(f"empty time range {start.isoformat()}..{end.isoformat()}")
    check_identifier(database)
    sql = (
        f"SELECT {_COLUMNS} FROM {database}.events_dedup "
        "WHERE app = {app:String} AND ({model:Nullable(String)} IS NULL OR model = {model:Nullable(String)}) "
        "AND start_time >= {start:DateTime64(3, 'UTC')} AND start_time < {end:DateTime64(3, 'UTC')} "
        "ORDER BY cityHash64(event_id) LIMIT {limit:UInt32}"
    )
    params = {"app": app, "model": model, "start": start, "end": end, "limit": limit}
    data = WindowData(start, end)
    for row in run_query(client, sql, params).dicts():
        prompt = _last_user(row.get("input_messages") or "[]")
        data.event_ids.append(str(row["event_id"]))
        data.times.append(row["start_time"])
        data.prompts.append(prompt)
        data.responses.append(row.get("output_text") or "")
        data.metadata.append(row_metadata(row, prompt))
    return data


def embed_window(data: WindowData, embedder: Any) -> None:
    """Fill the embeddings from the texts (empty texts get no embedding: NaN rows)."""
    for attr, texts in (("prompt_embeddings", data.prompts), ("response_embeddings", data.responses)):
        idx = [i for i, t in enumerate(texts) if t.strip()]
        if not idx:
            continue
        vectors = embedder.embed([texts[i] for i in idx])
        out = np.full((len(texts), vectors.shape[1]), np.nan, dtype=np.float32)
        out[idx] = vectors
        setattr(data, attr, out)


def frame(data: WindowData, numeric: list[str], categorical: list[str], emb: str | None) -> Any:
    """A report frame (see :class:`lightkeeper.processors.drift.report.ReportJob`)."""
    import pandas as pd

    cols: dict[str, Any] = {
        name: [np.nan if m.get(name) is None else float(m[name]) for m in data.metadata]  # type: ignore[arg-type]
        for name in numeric
    }
    for name in categorical:
        cols[name] = [None if m.get(name) is None else str(m[name]) for m in data.metadata]
    out = pd.DataFrame(cols)
    matrix = getattr(data, f"{emb}_embeddings") if emb else None
    if matrix is not None:
        out["embedding"] = [None if np.isnan(v).any() else v for v in matrix]
    return out
