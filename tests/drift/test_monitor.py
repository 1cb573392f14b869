"""DriftMonitor behaviour: stationary → quiet, shift → drift with the right window and
examples, restart safety, bad input accounting, keys and per-app configuration."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import pytest
from drift_synth import T0, SyntheticStream

from lightkeeper.errors import ConfigError, SchemaError
from lightkeeper.processors.drift import DriftConfig, DriftMonitor, KeyIdentity
from lightkeeper.schemas.records import DriftRecord


def feed(monitor: DriftMonitor, obs: list, chunk: int = 20) -> list[DriftRecord]:
    out: list[DriftRecord] = []
    for k in range(0, len(obs), chunk):
        out.extend(monitor.observe(obs[k : k + chunk]))
    return out


def test_stationary_stream_does_not_alarm(stream: SyntheticStream, small_config: DriftConfig) -> None:
    mon = DriftMonitor(small_config)
    records = feed(mon, stream.take(0, 300 + 1200))
    assert mon.counters["checks"] == (1200 - 100) // 25 + 1
    assert records, "every check writes records"
    assert not [r for r in records if r.drifted]
    assert {r.target for r in records} == {"prompt_embedding", "response_embedding", "metadata"}
    emb = [r for r in records if r.target == "prompt_embedding"]
    assert all(r.method == "evidently:model" and r.p_value is not None for r in emb)
    assert all(r.reference.size == 300 and r.current.size == 100 for r in emb)


def test_shift_is_detected_with_window_and_examples(
    stream: SyntheticStream, small_config: DriftConfig
) -> None:
    mon = DriftMonitor(small_config)
    feed(mon, stream.take(0, 300 + 200))
    shift_start = T0 + timedelta(seconds=stream.i)
    records = feed(mon, stream.take(1, 200))
    drifted = [r for r in records if r.drifted and r.target == "prompt_embedding"]
    assert drifted, "the topic shift must be detected"
    first = drifted[0]
    # detected within 100 events of the shift, on a window that contains shifted events
    assert first.current.end - shift_start <= timedelta(seconds=100)
    assert first.current.start < shift_start <= first.current.end
    assert first.reference.end < shift_start
    assert first.score > first.threshold and first.p_value is not None and first.p_value < 1e-4
    assert len(first.examples) == 3
    assert all("football" in e for e in first.examples), first.examples
    assert first.top_features == ["football"]  # the term that explains the shift
    # two consecutive positive checks are needed: the record before the first drifted one
    # (same target) was already positive but not yet declared
    emb = [r for r in records if r.target == "prompt_embedding"]
    k = emb.index(first)
    assert k >= 1 and not emb[k - 1].drifted
    assert emb[k - 1].p_value is not None and emb[k - 1].p_value < 1e-4


def test_metadata_drift_names_the_feature(stream: SyntheticStream, small_config: DriftConfig) -> None:
    mon = DriftMonitor(small_config)
    feed(mon, stream.take(0, 300 + 100))
    shifted = stream.take(0, 200)
    for o in shifted:
        o.metadata["output_tokens"] = float(o.metadata["output_tokens"]) * 4  # type: ignore[arg-type]
    records = feed(mon, shifted)
    meta = [r for r in records if r.target.startswith("metadata") and r.drifted]
    assert meta
    assert meta[0].target == "metadata:output_tokens"
    assert meta[0].top_features[0] == "output_tokens"
    assert meta[0].method == "evidently:ks"
    assert meta[0].score > meta[0].threshold  # -log10(p) vs -log10(alpha / n_features)
    assert meta[0].examples and meta[0].examples[0].startswith("output_tokens=")
    assert not [r for r in records if r.drifted and r.target == "prompt_embedding"]


def test_state_survives_restart(stream: SyntheticStream, small_config: DriftConfig) -> None:
    events = stream.take(0, 300 + 150) + stream.take(1, 150)
    uninterrupted = DriftMonitor(small_config)
    expected = feed(uninterrupted, events)

    first = DriftMonitor(small_config)
    got = feed(first, events[:420])
    saved = {k: first.export_state(k) for k in first.pop_dirty()}
    restarted = DriftMonitor(small_config)
    assert restarted.load_state(saved) == []
    got += feed(restarted, events[420:])

    def strip(r: DriftRecord) -> tuple:
        return (r.target, r.score, r.drifted, r.current, r.reference, tuple(r.examples))

    assert [strip(r) for r in got] == [strip(r) for r in expected]
    assert any(r.drifted for r in got)


def test_reference_fill_survives_restart_mid_baseline(
    stream: SyntheticStream, small_config: DriftConfig
) -> None:
    cfg = small_config.model_copy(
        update={"windows": small_config.windows.model_copy(update={"reference_mode": "pinned"})}
    )
    base = stream.take(0, 700)
    a = DriftMonitor(cfg)
    feed(a, base[:150])
    b = DriftMonitor(cfg)
    b.import_state(a.export_state(a.keys()[0]))
    ra, rb = feed(a, base[150:]), feed(b, base[150:])
    assert [(r.target, r.score) for r in ra] == [(r.target, r.score) for r in rb]


def test_bad_and_missing_embeddings_are_skipped_and_counted(
    stream: SyntheticStream, small_config: DriftConfig
) -> None:
    mon = DriftMonitor(small_config)
    obs = stream.take(0, 300 + 200)
    bad_values = [None, np.full(384, np.nan), np.zeros(384), np.ones(10), "not a vector", [[1.0, 2.0]]]
    for i, o in enumerate(obs[::5]):
        o.prompt_embedding = bad_values[i % len(bad_values)]
    records = feed(mon, obs)
    n_bad = len(obs[::5])
    missing = sum(1 for i in range(n_bad) if bad_values[i % len(bad_values)] is None)
    assert mon.counters["skipped_prompt_embedding_missing"] == missing
    assert mon.counters["skipped_prompt_embedding_bad"] == n_bad - missing
    assert mon.counters["skipped_response_embedding_bad"] == 0
    prompt = [r for r in records if r.target == "prompt_embedding"]
    meta = [r for r in records if r.target == "metadata"]
    assert prompt and meta and len(prompt) == len(meta)
    assert all(r.current.size == 80 for r in prompt)  # 20 of the 100 rows had no usable embedding
    assert not any(r.drifted for r in records)


def test_too_few_embeddings_skip_the_target(stream: SyntheticStream, small_config: DriftConfig) -> None:
    mon = DriftMonitor(small_config)
    obs = stream.take(0, 500)
    for o in obs:
        o.response_embedding = None
    records = feed(mon, obs)
    assert not [r for r in records if r.target == "response_embedding"]
    assert mon.counters["checks_skipped_response_embedding_too_few"] == mon.counters["checks"] > 0
    assert mon.counters["skipped_response_embedding_missing"] == 500


def test_keys_per_app_model_and_group(stream: SyntheticStream, small_config: DriftConfig) -> None:
    cfg = small_config.model_copy(update={"max_keys": 3})
    mon = DriftMonitor(cfg)
    mon.observe(stream.take(0, 5, app="a", keys=("", "route=chat")))
    mon.observe(stream.take(0, 5, app="b"))
    mon.observe(stream.take(0, 5, app="c"))
    assert sorted(mon.keys()) == sorted(
        [KeyIdentity("a", "m", "").id, KeyIdentity("a", "m", "route=chat").id, KeyIdentity("b", "m").id]
    )
    assert mon.counters["keys_over_limit"] == 5


def test_per_app_override_and_disable(stream: SyntheticStream, small_config: DriftConfig) -> None:
    cfg = DriftConfig.build(
        {
            **small_config.model_dump(exclude={"apps"}),
            "apps": {"quiet": {"enabled": False}, "strict": {"thresholds": {"consecutive": 1}}},
        }
    )
    assert cfg.for_app("strict").thresholds.consecutive == 1
    assert cfg.for_app("other").thresholds.consecutive == 2
    mon = DriftMonitor(cfg)
    assert mon.observe(stream.take(0, 600, app="quiet")) == []
    assert mon.keys() == []
    with pytest.raises(ConfigError, match=r"apps\.x\.windows\.step"):
        DriftConfig.build({"apps": {"x": {"windows": {"step": 0}}}})


def test_trailing_reference(stream: SyntheticStream, small_config: DriftConfig) -> None:
    cfg = small_config.model_copy(
        update={"windows": small_config.windows.model_copy(update={"reference_mode": "trailing"})}
    )
    mon = DriftMonitor(cfg)
    assert feed(mon, stream.take(0, 390)) == []  # 100 current + 290 reference: not ready yet
    records = feed(mon, stream.take(0, 400)) + feed(mon, stream.take(1, 200))
    drifted = [r for r in records if r.drifted and r.target == "prompt_embedding"]
    assert drifted
    state = mon.key_state(mon.keys()[0])
    assert state is not None and state.reference.size == 300
    # the trailing reference holds exactly the 300 events before the current window
    assert drifted[0].reference.end < drifted[0].current.start


def test_baseline_period(stream: SyntheticStream, small_config: DriftConfig) -> None:
    start, end = T0 + timedelta(seconds=100), T0 + timedelta(seconds=700)
    cfg = small_config.model_copy(
        update={
            "windows": small_config.windows.model_copy(update={"baseline_start": start, "baseline_end": end})
        }
    )
    mon = DriftMonitor(cfg)
    records = feed(mon, stream.take(0, 900))
    state = mon.key_state(mon.keys()[0])
    assert state is not None
    assert state.counters["before_baseline"] == 100
    assert state.reference.seen == 600 and state.reference.size == 300  # reservoir of 600 events
    assert records and all(r.reference.start >= start and r.reference.end < end for r in records)
    assert all(r.current.start >= end for r in records)


def test_time_cadence_checks_a_partial_window(stream: SyntheticStream, small_config: DriftConfig) -> None:
    w = small_config.windows.model_copy(update={"check_interval_s": 30.0, "current_size": 200, "step": 200})
    mon = DriftMonitor(small_config.model_copy(update={"windows": w}))
    records = feed(mon, stream.take(0, 300 + 120))
    assert records and all(r.current.size < 200 for r in records)


def test_corrupt_or_incompatible_state_is_refused(stream: SyntheticStream, small_config: DriftConfig) -> None:
    mon = DriftMonitor(small_config)
    mon.observe(stream.take(0, 50))
    key = mon.keys()[0]
    blob = mon.export_state(key)
    with pytest.raises(SchemaError):
        DriftMonitor(small_config).import_state(blob[:100])
    other = small_config.model_copy(
        update={"windows": small_config.windows.model_copy(update={"reference_size": 500})}
    )
    with pytest.raises(SchemaError, match="other windows"):
        DriftMonitor(other).import_state(blob)
    fresh = DriftMonitor(small_config)
    assert fresh.load_state({key: b"garbage"}) == [key]
    assert fresh.counters["state_restore_failed"] == 1


def test_check_failure_is_contained(
    stream: SyntheticStream, small_config: DriftConfig, monkeypatch: pytest.MonkeyPatch
) -> None:
    import lightkeeper.processors.drift.detector as det

    def boom(*a: object, **k: object) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(det, "embedding_drift", boom)
    mon = DriftMonitor(small_config)
    records = feed(mon, stream.take(0, 450))
    assert {r.target for r in records} == {"metadata"}
    assert mon.counters["check_errors"] == 2 * mon.counters["checks"] > 0


def test_state_is_bounded(stream: SyntheticStream, small_config: DriftConfig) -> None:
    mon = DriftMonitor(small_config)
    mon.observe(stream.take(0, 400))
    state = mon.key_state(mon.keys()[0])
    assert state is not None
    size_a, blob_a = state.nbytes(), len(mon.export_state(mon.keys()[0]))
    mon.observe(stream.take(0, 1000))
    assert state.nbytes() <= size_a * 1.02  # only snippet lengths vary
    assert len(mon.export_state(mon.keys()[0])) < blob_a * 1.2


def test_rebaseline_and_drop_idle(stream: SyntheticStream, small_config: DriftConfig) -> None:
    mon = DriftMonitor(small_config)
    feed(mon, stream.take(0, 400))
    feed(mon, stream.take(1, 200))
    key = KeyIdentity("app", "m").id
    state = mon.key_state(key)
    assert state is not None and state.targets["prompt_embedding"].in_drift
    assert mon.rebaseline("app", "m") and not mon.rebaseline("app", "other")
    # the new baseline is the new normal: no drift afterwards
    records = feed(mon, stream.take(1, 300 + 200))
    assert records and not any(r.drifted for r in records)
    last = state.last_event_t
    assert mon.drop_idle(60.0, now_t=last + 30.0) == []
    assert mon.drop_idle(60.0, now_t=last + 61.0) == [key] and mon.keys() == []
