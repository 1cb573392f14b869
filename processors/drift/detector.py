"""The drift monitor: per-key windows, checks on a cadence, :class:`DriftRecord` output.

Use::

    monitor = DriftMonitor(DriftConfig())
    obs = monitor.observation(event, prompt_emb, response_emb, cost_usd=cost)
    records = monitor.observe([obs, ...])          # zero or more DriftRecords
    blob = monitor.export_state(key_id)            # persist (faust table, file)
    monitor.import_state(blob)                     # after a restart

Checks never raise into the caller: a failing check is logged and counted
(``counters["check_errors"]``) and the stream goes on. Bad or missing embeddings are skipped
for their target and counted (``skipped_<target>_<missing|bad>``); the event still counts for
the other targets.
"""

from __future__ import annotations

import logging
import math
import time
from collections import Counter, OrderedDict
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import numpy as np

from lightkeeper.errors import SchemaError
from lightkeeper.processors.drift.config import DriftConfig
from lightkeeper.processors.drift.embedding_drift import embedding_drift, far_from_reference
from lightkeeper.processors.drift.explain import distinctive_terms
from lightkeeper.processors.drift.metadata_drift import atypical_rows, metadata_drift
from lightkeeper.processors.drift.observation import DriftObservation, observation_from_event
from lightkeeper.processors.drift.state import KeyIdentity, KeyState, TargetStatus
from lightkeeper.processors.drift.windows import Row, dequantize, validate_embedding
from lightkeeper.schemas.records import DriftRecord, WindowBounds

if TYPE_CHECKING:
    from lightkeeper.processors.drift.report import ReportJob, ReportWriter
    from lightkeeper.schemas.events import LLMCallEvent

log = logging.getLogger(__name__)

_EMB_TARGETS = {"prompt_embedding": "prompt", "response_embedding": "response"}


def _neglog10(p: float) -> float:
    """Metadata scores are -log10(p): higher means more drift, like the embedding scores."""
    return float(-math.log10(max(p, 1e-300)))


def _ts(t: float) -> datetime:
    return datetime.fromtimestamp(t, UTC)


class DriftMonitor:
    """Tracks drift for every (app, model[, key]) seen; bounded by ``config.max_keys``.

    Holds the keys' :class:`KeyState` (LRU order), process-wide ``counters``, the set of keys
    changed since :meth:`pop_dirty`, and an optional :class:`ReportWriter` for HTML reports.
    """

    def __init__(
        self,
        config: DriftConfig | None = None,
        *,
        report_writer: ReportWriter | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.config = config or DriftConfig()
        self.counters: Counter[str] = Counter()
        self._keys: OrderedDict[str, KeyState] = OrderedDict()
        self._dirty: set[str] = set()
        self._clock = clock
        self._reports = report_writer
        if self._reports is None and self.config.reports_dir is not None:
            from lightkeeper.processors.drift.report import ReportWriter

            self._reports = ReportWriter(self.config.reports_dir, max_pending=self.config.max_pending_reports)

    # -- input ------------------------------------------------------------------------------
    def observation(
        self,
        ev: LLMCallEvent,
        prompt_embedding: np.ndarray | None = None,
        response_embedding: np.ndarray | None = None,
        *,
        cost_usd: float | None = None,
    ) -> DriftObservation:
        """Build an observation with the app's ``group_by`` and snippet length."""
        cfg = self.config.for_app(ev.app)
        return observation_from_event(
            ev,
            prompt_embedding,
            response_embedding,
            cost_usd=cost_usd,
            group_by=cfg.group_by,
            snippet_chars=cfg.snippet_chars,
        )

    def observe(self, batch: Iterable[DriftObservation]) -> list[DriftRecord]:
        """Add observations; returns the records of the checks that came due."""
        records: list[DriftRecord] = []
        for obs in batch:
            cfg = self.config.for_app(obs.app)
            if not cfg.enabled:
                continue
            self.counters["observations"] += 1
            try:
                row = self._row(obs, cfg)
            except Exception as exc:  # a malformed observation must not stop the stream
                log.warning("drift: skipped a malformed observation (%s: %s)", type(exc).__name__, exc)
                self.counters["skipped_bad_observation"] += 1
                continue
            if row is None:
                continue
            for key in obs.keys or ("",):
                state = self._state(KeyIdentity(obs.app, obs.model or "unknown", key), cfg)
                if state is not None:
                    records.extend(self._ingest(state, row))
        return records

    # -- state ------------------------------------------------------------------------------
    def keys(self) -> list[str]:
        return list(self._keys)

    def key_state(self, key_id: str) -> KeyState | None:
        return self._keys.get(key_id)

    def pop_dirty(self) -> set[str]:
        """Keys changed since the last call (to persist only those)."""
        dirty, self._dirty = self._dirty, set()
        return dirty

    def export_state(self, key_id: str) -> bytes:
        state = self._keys.get(key_id)
        if state is None:
            raise KeyError(key_id)
        return state.to_bytes()

    def import_state(self, blob: bytes) -> str:
        """Restore one key from :meth:`export_state` bytes; returns its key id.

        Raises :class:`SchemaError` for unreadable or incompatible blobs (the key then starts
        afresh)."""
        state = KeyState.from_bytes(blob, self.config)
        self._keys[state.ident.id] = state
        self._keys.move_to_end(state.ident.id)
        return state.ident.id

    def state_dict(self) -> dict[str, bytes]:
        return {k: s.to_bytes() for k, s in self._keys.items()}

    def load_state(self, states: dict[str, bytes]) -> list[str]:
        """Restore many keys; returns the ids that could not be restored (logged, counted)."""
        failed: list[str] = []
        for key_id, blob in states.items():
            try:
                self.import_state(blob)
            except SchemaError as exc:
                log.warning("drift state of %s not restored: %s", key_id, exc)
                self.counters["state_restore_failed"] += 1
                failed.append(key_id)
        return failed

    def drop_idle(self, max_idle_s: float, now_t: float | None = None) -> list[str]:
        """Forget keys without events (event time) for ``max_idle_s``; returns their ids so the
        caller can delete their persisted state too."""
        now = self._clock() if now_t is None else now_t
        gone = [k for k, s in self._keys.items() if now - s.last_event_t > max_idle_s]
        for key_id in gone:
            del self._keys[key_id]
            self._dirty.discard(key_id)
        return gone

    def rebaseline(self, app: str, model: str, key: str = "") -> bool:
        """Start a new pinned baseline from the next events (e.g. after an accepted change)."""
        state = self._keys.get(KeyIdentity(app, model, key).id)
        if state is None:
            return False
        state.reference.reset(keep_period=False)
        state.current.reset()
        for name in state.targets:
            state.targets[name] = TargetStatus()
        self._dirty.add(state.ident.id)
        return True

    def close(self, timeout: float | None = 30.0) -> None:
        """Wait for pending reports."""
        if self._reports is not None:
            self._reports.close(timeout)

    # -- internals --------------------------------------------------------------------------
    def _row(self, obs: DriftObservation, cfg: DriftConfig) -> Row | None:
        try:
            t = obs.event_time.timestamp()
        except (AttributeError, OverflowError, ValueError):
            self.counters["skipped_bad_time"] += 1
            return None
        embs: dict[str, np.ndarray | None] = {}
        for target, attr in _EMB_TARGETS.items():
            q, problem = validate_embedding(getattr(obs, f"{attr}_embedding"), cfg.embedding_dim)
            if problem is not None and target in cfg.targets:
                self.counters[f"skipped_{target}_{problem}"] += 1
            embs[attr] = q
        num = np.full(len(cfg.numeric_features), np.nan)
        for j, name in enumerate(cfg.numeric_features):
            value = obs.metadata.get(name)
            if isinstance(value, bool):
                value = float(value)
            if isinstance(value, int | float) and np.isfinite(value):
                num[j] = float(value)
        cat = tuple(
            None if obs.metadata.get(name) is None else str(obs.metadata.get(name))[:64]
            for name in cfg.categorical_features
        )
        n = cfg.snippet_chars
        return Row(
            t, embs["prompt"], embs["response"], num, cat, (obs.prompt or "")[:n], (obs.response or "")[:n]
        )

    def _state(self, ident: KeyIdentity, cfg: DriftConfig) -> KeyState | None:
        key_id = ident.id
        state = self._keys.get(key_id)
        if state is not None:
            self._keys.move_to_end(key_id)
            return state
        if len(self._keys) >= self.config.max_keys:
            self.counters["keys_over_limit"] += 1
            return None
        state = KeyState(ident, cfg)
        self._keys[key_id] = state
        return state

    def _ingest(self, state: KeyState, row: Row) -> list[DriftRecord]:
        self._dirty.add(state.ident.id)
        state.last_event_t = max(state.last_event_t, row.t)
        ref = state.reference
        if ref.mode == "pinned" and not ref.frozen:
            outcome = ref.offer(row)
            if outcome == "before":
                state.counters["before_baseline"] += 1
            if outcome != "closed":
                return []
        evicted = state.current.push(row)
        if ref.mode == "trailing" and evicted is not None:
            ref.push_fifo(evicted)
        w = state.config.windows
        if not ref.ready or not state.current.due(w.step, w.check_interval_s, w.min_current, row.t):
            return []
        return self._check(state, row.t)

    def _check(self, state: KeyState, now_t: float) -> list[DriftRecord]:
        cfg = state.config
        sel = state.current.selection(cfg.windows.max_age_s)
        state.current.mark_checked(now_t)
        if sel.size < cfg.windows.min_current:
            return []
        self.counters["checks"] += 1
        out: list[DriftRecord] = []
        for target in cfg.targets:
            t0 = time.process_time()
            try:
                if target == "metadata":
                    record = self._check_metadata(state, sel)
                else:
                    record = self._check_embedding(state, sel, target)
            except Exception:
                log.exception("drift check %s for %s failed", target, state.ident.id)
                self.counters["check_errors"] += 1
                continue
            self.counters["check_cpu_us"] += int((time.process_time() - t0) * 1e6)
            if record is not None and (cfg.emit == "all" or record.drifted):
                out.append(record)
        return out

    def _bounds(self, state: KeyState, sel: np.ndarray, n_ref: int, n_cur: int) -> tuple[WindowBounds, ...]:
        ref, times = state.reference, state.current.samples.times[sel]
        return (
            WindowBounds(start=_ts(ref.t_start), end=_ts(ref.t_end), size=n_ref),
            WindowBounds(start=_ts(float(times.min())), end=_ts(float(times.max())), size=n_cur),
        )

    def _decide(self, state: KeyState, target: str, positive: bool) -> tuple[bool, bool]:
        """Update the streak; returns (drifted, episode_started)."""
        status = state.targets.setdefault(target, TargetStatus())
        status.streak = status.streak + 1 if positive else 0
        drifted = status.streak >= state.config.thresholds.consecutive
        started = drifted and not status.in_drift
        if started:
            status.in_drift, status.drift_since = True, state.last_event_t
        elif not drifted:
            status.in_drift, status.drift_since = False, None
        return drifted, started

    def _check_embedding(self, state: KeyState, sel: np.ndarray, target: str) -> DriftRecord | None:
        cfg, attr = state.config, _EMB_TARGETS[target]
        ref_s, cur_s = state.reference.samples, state.current.samples
        ref_ok = getattr(ref_s, f"{attr}_ok")[: ref_s.n]
        cur_sel = sel[getattr(cur_s, f"{attr}_ok")[sel]]
        min_frac = cfg.thresholds.min_valid_fraction
        if ref_ok.sum() < max(4, min_frac * ref_s.n) or cur_sel.size < max(4, min_frac * sel.size):
            self.counters[f"checks_skipped_{target}_too_few"] += 1
            return None
        ref_emb = dequantize(getattr(ref_s, attr)[: ref_s.n][ref_ok])
        cur_emb = dequantize(getattr(cur_s, attr)[cur_sel])
        th = cfg.thresholds
        res = embedding_drift(
            ref_emb,
            cur_emb,
            method=th.embedding_method,
            alpha=th.embedding_alpha,
            mmd_threshold=th.mmd_threshold,
            pca_components=th.pca_components,
        )
        drifted, started = self._decide(state, target, res.positive)
        examples: list[str] = []
        terms: list[str] = []
        if drifted:
            texts = getattr(cur_s, f"{attr}_text")
            for i, _dist in far_from_reference(ref_emb, cur_emb, cfg.n_examples):
                examples.append(texts[int(cur_sel[i])])
            if ref_s.keep_text:
                ref_texts = getattr(ref_s, f"{attr}_text")
                terms = distinctive_terms(
                    [ref_texts[int(i)] for i in np.flatnonzero(ref_ok)],
                    [texts[int(i)][: cfg.reference_snippet_chars] for i in cur_sel],
                )
        reference, current = self._bounds(state, cur_sel, res.reference_size, res.current_size)
        record = DriftRecord(
            app=state.ident.app,
            model=state.ident.model,
            key=state.ident.key,
            target=target,
            method=f"evidently:{res.method}",
            score=res.score,
            threshold=res.threshold,
            p_value=res.p_value,
            drifted=drifted,
            reference=reference,
            current=current,
            top_features=terms,
            examples=examples,
        )
        if started:
            record.report_path = self._submit_report(state, target, record, sel)
        return record

    def _check_metadata(self, state: KeyState, sel: np.ndarray) -> DriftRecord | None:
        cfg = state.config
        ref_s, cur_s = state.reference.samples, state.current.samples
        ref_num, cur_num = ref_s.num[: ref_s.n], cur_s.num[sel]
        ref_cat, cur_cat = ref_s.cat[: ref_s.n], [cur_s.cat[int(i)] for i in sel]
        res = metadata_drift(
            list(cfg.numeric_features),
            ref_num,
            cur_num,
            list(cfg.categorical_features),
            ref_cat,
            cur_cat,
            alpha=cfg.thresholds.metadata_alpha,
            min_category_count=cfg.thresholds.min_category_count,
        )
        top = res.top
        if top is None:
            self.counters["checks_skipped_metadata_no_features"] += 1
            return None
        drifted, started = self._decide(state, "metadata", res.positive)
        examples: list[str] = []
        if drifted:
            names = list(cfg.numeric_features) if top.kind == "numeric" else list(cfg.categorical_features)
            j = names.index(top.name)
            for i in atypical_rows(top, j, ref_num, cur_num, ref_cat, cur_cat, cfg.n_examples):
                value = cur_num[i, j] if top.kind == "numeric" else cur_cat[i][j]
                examples.append(f"{top.name}={value}: {cur_s.prompt_text[int(sel[i])]}")
        positives = [f.name for f in res.features if f.positive]
        reference, current = self._bounds(state, sel, ref_s.n, int(sel.size))
        record = DriftRecord.model_validate(
            {
                "app": state.ident.app,
                "model": state.ident.model,
                "key": state.ident.key,
                "target": f"metadata:{top.name}" if drifted else "metadata",
                "method": f"evidently:{top.method}",
                "score": _neglog10(top.p_value),
                "threshold": _neglog10(res.per_feature_alpha),
                "p_value": top.p_value,
                "drifted": drifted,
                "reference": reference,
                "current": current,
                "top_features": positives or [f.name for f in res.features[:3]],
                "examples": examples,
                # extra field (records keep unknown fields): every tested feature
                "features": [
                    {"name": f.name, "method": f.method, "p_value": f.p_value, "positive": f.positive}
                    for f in res.features
                ],
            }
        )
        if started:
            record.report_path = self._submit_report(state, "metadata", record, sel)
        return record

    def _submit_report(
        self, state: KeyState, target: str, record: DriftRecord, sel: np.ndarray
    ) -> str | None:
        if self._reports is None:
            return None
        status = state.targets[target]
        now = self._clock()
        interval = state.config.report_min_interval_s
        if status.last_report_t is not None and now - status.last_report_t < interval:
            self.counters["reports_rate_limited"] += 1
            return None
        job = self._report_job(state, target, record, sel)
        path = self._reports.submit(job)
        if path is None:
            self.counters["reports_dropped"] += 1
            return None
        status.last_report_t = now
        self.counters["reports_queued"] += 1
        return str(path)

    def _report_job(self, state: KeyState, target: str, record: DriftRecord, sel: np.ndarray) -> ReportJob:
        from lightkeeper.processors.drift.report import ReportJob, frame_from_samples

        cfg = state.config
        ref_s, cur_s = state.reference.samples, state.current.samples
        emb = _EMB_TARGETS.get(target)
        return ReportJob(
            drift_id=record.drift_id,
            app=state.ident.app,
            model=state.ident.model,
            key=state.ident.key,
            target=target,
            reference=frame_from_samples(ref_s, np.arange(ref_s.n), cfg, emb),
            current=frame_from_samples(cur_s, sel, cfg, emb),
            numeric=list(cfg.numeric_features),
            categorical=list(cfg.categorical_features),
        )
