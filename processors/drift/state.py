"""Per-key drift state and its byte encoding.

:class:`KeyState` holds one tracked key's reference and current windows, the per-target
detection streaks and a few counters. :meth:`KeyState.to_bytes` gives a self-describing blob
(``numpy.savez_compressed`` of plain arrays + a JSON header; no pickle) that a faust table or
a file can hold; :meth:`KeyState.from_bytes` restores it and refuses (``SchemaError``) corrupt
blobs or blobs written with different window sizes or features.
"""

from __future__ import annotations

import io
import json
import zlib
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np

from lightkeeper.errors import SchemaError
from lightkeeper.processors.drift.config import DriftConfig
from lightkeeper.processors.drift.windows import CurrentWindow, ReferenceWindow, Samples

STATE_VERSION = 1


@dataclass(slots=True)
class TargetStatus:
    """Detection memory of one target (prompt_embedding, response_embedding, metadata)."""

    streak: int = 0
    """Consecutive positive checks."""
    in_drift: bool = False
    drift_since: float | None = None
    last_report_t: float | None = None


@dataclass(slots=True)
class KeyIdentity:
    app: str
    model: str
    key: str = ""

    @property
    def id(self) -> str:
        """Stable string id (a JSON array), usable as a table key."""
        return json.dumps([self.app, self.model, self.key], ensure_ascii=False)

    @classmethod
    def parse(cls, key_id: str) -> KeyIdentity:
        try:
            app, model, key = json.loads(key_id)
        except (ValueError, TypeError) as exc:
            raise SchemaError(f"not a drift key id: {key_id!r}") from exc
        return cls(str(app), str(model), str(key))


@dataclass
class KeyState:
    """Everything drift remembers about one (app, model, key)."""

    ident: KeyIdentity
    config: DriftConfig
    reference: ReferenceWindow = field(init=False)
    current: CurrentWindow = field(init=False)
    targets: dict[str, TargetStatus] = field(default_factory=dict)
    counters: Counter[str] = field(default_factory=Counter)
    last_event_t: float = 0.0

    def __post_init__(self) -> None:
        cfg = self.config
        w = cfg.windows
        n_num, n_cat = len(cfg.numeric_features), len(cfg.categorical_features)
        seed = zlib.crc32(self.ident.id.encode())
        self.reference = ReferenceWindow(
            Samples(
                w.reference_size,
                cfg.embedding_dim,
                n_num,
                n_cat,
                keep_text=cfg.reference_snippet_chars > 0,
                text_limit=cfg.reference_snippet_chars,
            ),
            mode=w.reference_mode,
            seed=seed,
            baseline_start=w.baseline_start.timestamp() if w.baseline_start else None,
            baseline_end=w.baseline_end.timestamp() if w.baseline_end else None,
        )
        self.current = CurrentWindow(Samples(w.current_size, cfg.embedding_dim, n_num, n_cat, keep_text=True))
        for t in cfg.targets:
            self.targets.setdefault(t, TargetStatus())

    def nbytes(self) -> int:
        """Memory held by the windows (the bound that matters)."""
        return self.reference.samples.nbytes() + self.current.samples.nbytes()

    def _fingerprint(self) -> dict[str, Any]:
        cfg = self.config
        return {
            "reference_size": cfg.windows.reference_size,
            "current_size": cfg.windows.current_size,
            "reference_mode": cfg.windows.reference_mode,
            "dim": cfg.embedding_dim,
            "reference_text": cfg.reference_snippet_chars > 0,
            "numeric": list(cfg.numeric_features),
            "categorical": list(cfg.categorical_features),
        }

    def to_bytes(self) -> bytes:
        ref_arrays, ref_meta = self.reference.to_state()
        cur_arrays, cur_meta = self.current.to_state()
        header = {
            "version": STATE_VERSION,
            "ident": [self.ident.app, self.ident.model, self.ident.key],
            "fingerprint": self._fingerprint(),
            "reference": ref_meta,
            "current": cur_meta,
            "targets": {
                k: [v.streak, v.in_drift, v.drift_since, v.last_report_t] for k, v in self.targets.items()
            },
            "counters": dict(self.counters),
            "last_event_t": self.last_event_t,
            "saved_at": datetime.now(UTC).isoformat(),
        }
        buf = io.BytesIO()
        header_arr = np.frombuffer(json.dumps(header).encode(), dtype=np.uint8)
        payload: dict[str, Any] = {**ref_arrays, **cur_arrays, "header": header_arr}
        np.savez_compressed(buf, **payload)
        return buf.getvalue()

    @classmethod
    def from_bytes(cls, blob: bytes, config: DriftConfig) -> KeyState:
        """Restore a key; ``config`` must be the app's effective config."""
        try:
            with np.load(io.BytesIO(blob), allow_pickle=False) as npz:
                arrays = {name: npz[name] for name in npz.files}
            header = json.loads(arrays.pop("header").tobytes().decode())
        except Exception as exc:  # any decoding failure means the blob is unusable
            raise SchemaError(f"drift state is not readable: {exc}") from None
        if header.get("version") != STATE_VERSION:
            raise SchemaError(f"drift state version {header.get('version')} is not supported")
        app, model, key = header["ident"]
        state = cls(KeyIdentity(app, model, key), config.for_app(app))
        if header["fingerprint"] != state._fingerprint():
            raise SchemaError(
                "drift state was written with other windows/features "
                f"({header['fingerprint']} vs {state._fingerprint()})",
                [("fingerprint", "configuration changed")],
            )
        try:
            state.reference.load_state(arrays, header["reference"])
            state.current.load_state(arrays, header["current"])
        except (KeyError, ValueError) as exc:
            raise SchemaError(f"drift state is inconsistent: {exc}") from None
        for name, (streak, in_drift, since, last_report) in header["targets"].items():
            if name in state.targets:
                state.targets[name] = TargetStatus(int(streak), bool(in_drift), since, last_report)
        state.counters.update({str(k): int(v) for k, v in header["counters"].items()})
        state.last_event_t = float(header.get("last_event_t", 0.0))
        return state
