"""One-off comparison of two :class:`~processors.drift.from_store.WindowData` with the same
tests and thresholds as the stream (a single check: no consecutive-detection rule)."""

from __future__ import annotations

import math

import numpy as np

from lightkeeper.processors.drift.config import DriftConfig
from lightkeeper.processors.drift.embedding_drift import embedding_drift, far_from_reference
from lightkeeper.processors.drift.explain import distinctive_terms
from lightkeeper.processors.drift.from_store import WindowData
from lightkeeper.processors.drift.metadata_drift import atypical_rows, metadata_drift
from lightkeeper.schemas.records import DriftRecord, WindowBounds


def _bounds(data: WindowData, size: int) -> WindowBounds:
    if data.times:
        return WindowBounds(start=min(data.times), end=max(data.times), size=size)
    return WindowBounds(start=data.start, end=data.end, size=size)


def compare(ref: WindowData, cur: WindowData, cfg: DriftConfig, *, app: str, model: str) -> list[DriftRecord]:
    """One record per target that has data on both sides."""
    th = cfg.thresholds
    out: list[DriftRecord] = []
    for target, attr, texts in (
        ("prompt_embedding", "prompt_embeddings", cur.prompts),
        ("response_embedding", "response_embeddings", cur.responses),
    ):
        r, c = getattr(ref, attr), getattr(cur, attr)
        if r is None or c is None:
            continue
        r_ok, c_ok = ~np.isnan(r).any(axis=1), ~np.isnan(c).any(axis=1)
        if r_ok.sum() < 10 or c_ok.sum() < 10:
            continue
        rm, cm = r[r_ok], c[c_ok]
        res = embedding_drift(
            rm,
            cm,
            method=th.embedding_method,
            alpha=th.embedding_alpha,
            mmd_threshold=th.mmd_threshold,
            pca_components=th.pca_components,
        )
        cur_rows = np.flatnonzero(c_ok)
        far = [
            texts[int(cur_rows[i])][: cfg.snippet_chars]
            for i, _ in far_from_reference(rm, cm, cfg.n_examples)
        ]
        ref_texts = ref.prompts if target == "prompt_embedding" else ref.responses
        n = cfg.reference_snippet_chars or cfg.snippet_chars
        terms = (
            distinctive_terms(
                [ref_texts[int(i)][:n] for i in np.flatnonzero(r_ok)], [texts[int(i)][:n] for i in cur_rows]
            )
            if res.positive
            else []
        )
        out.append(
            DriftRecord(
                app=app,
                model=model,
                target=target,
                method=f"evidently:{res.method}",
                score=res.score,
                threshold=res.threshold,
                p_value=res.p_value,
                drifted=res.positive,
                reference=_bounds(ref, res.reference_size),
                current=_bounds(cur, res.current_size),
                examples=far if res.positive else [],
                top_features=terms,
            )
        )
    numeric, categorical = list(cfg.numeric_features), list(cfg.categorical_features)

    def num(d: WindowData) -> np.ndarray:
        return np.array(
            [[np.nan if m.get(n) is None else float(m[n]) for n in numeric] for m in d.metadata],  # type: ignore[arg-type]
            dtype=np.float64,
        ).reshape(len(d.metadata), len(numeric))

    def cat(d: WindowData) -> list[tuple[str | None, ...]]:
        return [tuple(None if m.get(n) is None else str(m[n]) for n in categorical) for m in d.metadata]

    ref_num, cur_num, ref_cat, cur_cat = num(ref), num(cur), cat(ref), cat(cur)
    meta = metadata_drift(
        numeric,
        ref_num,
        cur_num,
        categorical,
        ref_cat,
        cur_cat,
        alpha=th.metadata_alpha,
        min_category_count=th.min_category_count,
    )
    top = meta.top
    if top is not None:
        examples: list[str] = []
        if meta.positive:
            names = numeric if top.kind == "numeric" else categorical
            j = names.index(top.name)
            for i in atypical_rows(top, j, ref_num, cur_num, ref_cat, cur_cat, cfg.n_examples):
                value = cur_num[i, j] if top.kind == "numeric" else cur_cat[i][j]
                examples.append(f"{top.name}={value}: {cur.prompts[i][: cfg.snippet_chars]}")
        out.append(
            DriftRecord(
                app=app,
                model=model,
                target=f"metadata:{top.name}" if meta.positive else "metadata",
                method=f"evidently:{top.method}",
                score=-math.log10(max(top.p_value, 1e-300)),
                threshold=-math.log10(meta.per_feature_alpha),
                p_value=top.p_value,
                drifted=meta.positive,
                reference=_bounds(ref, len(ref)),
                current=_bounds(cur, len(cur)),
                top_features=[f.name for f in meta.features if f.positive]
                or [f.name for f in meta.features[:3]],
                examples=examples,
            )
        )
    return out
