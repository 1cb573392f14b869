"""Row builders: records -> dicts keyed by the column names of the store tables.

Used by the worker's sink and the embedded runtime; feed the dicts to
:class:`lightkeeper.store.writer.BatchWriter`. Conventions:

* optional labels (tenant, route, models, error_type, ...) are stored as ``''`` when absent;
  optional numbers stay ``None`` (NULL) so "unknown" is never confused with zero;
* flags are ``0``/``1``; JSON-ish content (messages, tool calls, metadata, details) is a JSON
  string; timestamps are timezone-aware UTC datetimes; money is :class:`decimal.Decimal`
  quantized to 1e-9 USD;
* ``ingested_at`` is left to the server default (``now64(3)``), the replacing version of
  ``events``.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

import pydantic_core

from lightkeeper.errors import SchemaError
from lightkeeper.schemas.events import LLMCallEvent
from lightkeeper.schemas.records import AlertRecord, AnomalyRecord, DriftRecord, ScoreRecord

_NANO = Decimal("0.000000001")
_MAX_USD = Decimal(10**9)
_ZERO = Decimal(0)

#: Enrichment columns of ``events`` that :func:`event_row` accepts as keyword arguments.
COST_COLUMNS = (
    "cost_usd",
    "cost_input_usd",
    "cost_output_usd",
    "cost_cached_input_usd",
    "cost_reasoning_usd",
)
ENRICHMENT_COLUMNS = (*COST_COLUMNS, "pricing_version", "cost_unknown_model")

#: The columns :func:`event_row` fills, in order (computed below from a sample row).
EVENT_COLUMNS: tuple[str, ...]


def usd(value: Any) -> Decimal | None:
    """A money amount as Decimal with 9 decimals (``None`` stays ``None``); refuses negatives and
    non-numbers with :class:`SchemaError`."""
    if value is None:
        return None
    try:
        amount = value if isinstance(value, Decimal) else Decimal(str(value))
        amount = amount.quantize(_NANO)
    except (InvalidOperation, ValueError):
        problem = "not a finite amount"
        raise SchemaError(f"invalid cost {value!r}: {problem}", [("cost", problem)]) from None
    if not amount.is_finite() or amount < _ZERO or amount >= _MAX_USD:
        raise SchemaError(f"invalid cost {value!r}: must be within [0, 1e9) USD", [("cost", "out of range")])
    return amount


def _json(value: Any) -> str:
    return pydantic_core.to_json(value, exclude_none=True).decode()


def event_row(ev: LLMCallEvent, **enrichment: Any) -> dict[str, Any]:
    """One ``events`` row. ``enrichment`` may hold the cost columns (Decimal/float/str USD),
    ``pricing_version`` and ``cost_unknown_model``; anything else is a :class:`SchemaError`."""
    costs = enrichment_columns(**enrichment)
    req = ev.request
    usage = ev.usage
    output = ev.output
    extra = ev.model_extra
    row: dict[str, Any] = {
        "event_id": ev.event_id,
        "schema_version": ev.schema_version,
        "app": ev.app,
        "environment": ev.environment,
        "tenant": ev.tenant or "",
        "user_id": ev.user_id or "",
        "session_id": ev.session_id or "",
        "trace_id": ev.trace_id or "",
        "span_id": ev.span_id or "",
        "route": ev.route or "",
        "source": str(ev.source.value),
        "provider_name": ev.provider_name,
        "operation_name": ev.operation_name,
        "request_model": ev.request_model or "",
        "response_model": ev.response_model or "",
        "model": ev.model,
        "prompt_id": ev.prompt_id or "",
        "prompt_version": ev.prompt_version or "",
        "release": ev.release or "",
        "response_id": ev.response_id or "",
        "temperature": req.temperature,
        "max_tokens": req.max_tokens,
        "top_p": req.top_p,
        "top_k": req.top_k,
        "frequency_penalty": req.frequency_penalty,
        "presence_penalty": req.presence_penalty,
        "stop_sequences": req.stop_sequences or [],
        "seed": req.seed,
        "choice_count": req.choice_count,
        "input_tokens": usage.input_tokens,
        "output_tokens": usage.output_tokens,
        "cache_read_input_tokens": usage.cache_read_input_tokens,
        "cache_creation_input_tokens": usage.cache_creation_input_tokens,
        "reasoning_output_tokens": usage.reasoning_output_tokens,
        "tokens_estimated": int(usage.estimated),
        "finish_reasons": ev.finish_reasons,
        "start_time": ev.start_time,
        "end_time": ev.end_time,
        "duration_ms": ev.duration_ms,
        "time_to_first_token_ms": ev.time_to_first_token_ms,
        "streaming": int(ev.streaming),
        "http_status": ev.http_status,
        "error_type": ev.error_type or "",
        "error_message": ev.error_message or "",
        "is_error": int(ev.is_error),
        "input_messages": _json(ev.input_messages) if ev.input_messages else "[]",
        "output_text": output.text or "",
        "output_tool_calls": _json(output.tool_calls) if output.tool_calls else "[]",
        "context_documents": None if ev.context_documents is None else _json(ev.context_documents),
        "tags": ev.tags,
        "metadata": _json(ev.metadata) if ev.metadata else "{}",
        "extra": _json(extra) if extra else "",
        "truncated": int(ev.truncated),
        "redacted": int(ev.redacted),
        "redaction_types": ev.redaction_types,
        "body_sampled": int(ev.body_sampled),
    }
    row.update(costs)
    return row


def enrichment_columns(**enrichment: Any) -> dict[str, Any]:
    """The checked enrichment columns of an ``events`` row, all of them in column order (absent
    ones NULL / ``''`` / 0): cost columns through :func:`usd`, ``pricing_version`` and
    ``cost_unknown_model``. Anything else is a :class:`SchemaError`."""
    unknown = set(enrichment) - set(ENRICHMENT_COLUMNS)
    if unknown:
        names = ", ".join(sorted(unknown))
        raise SchemaError(f"unknown enrichment column(s): {names}", [(n, "unknown column") for n in unknown])
    get = enrichment.get
    return {
        "cost_usd": usd(get("cost_usd")),
        "cost_input_usd": usd(get("cost_input_usd")),
        "cost_output_usd": usd(get("cost_output_usd")),
        "cost_cached_input_usd": usd(get("cost_cached_input_usd")),
        "cost_reasoning_usd": usd(get("cost_reasoning_usd")),
        "pricing_version": str(get("pricing_version") or ""),
        "cost_unknown_model": int(bool(get("cost_unknown_model"))),
    }


EVENT_COLUMNS = tuple(event_row(LLMCallEvent()).keys())


def score_row(rec: ScoreRecord) -> dict[str, Any]:
    """One ``scores`` row."""
    return {
        "event_id": rec.event_id,
        "detector": str(rec.detector.value),
        "score": rec.score,
        "flagged": int(rec.flagged),
        "threshold": rec.threshold,
        "details": _json(rec.details) if rec.details else "{}",
        "model_version": rec.model_version,
        "app": rec.app,
        "environment": rec.environment,
        "request_model": rec.request_model or "",
        "event_time": rec.event_time,
        "scored_at": rec.scored_at,
    }


def drift_row(rec: DriftRecord) -> dict[str, Any]:
    """One ``drift`` row (window bounds flattened to ``reference_*`` / ``current_*``)."""
    return {
        "drift_id": rec.drift_id,
        "app": rec.app,
        "model": rec.model,
        "key": rec.key,
        "target": rec.target,
        "method": rec.method,
        "score": rec.score,
        "threshold": rec.threshold,
        "p_value": rec.p_value,
        "drifted": int(rec.drifted),
        "reference_start": rec.reference.start,
        "reference_end": rec.reference.end,
        "reference_size": rec.reference.size,
        "current_start": rec.current.start,
        "current_end": rec.current.end,
        "current_size": rec.current.size,
        "top_features": rec.top_features,
        "examples": rec.examples,
        "report_path": rec.report_path or "",
        "detected_at": rec.detected_at,
    }


def anomaly_row(rec: AnomalyRecord) -> dict[str, Any]:
    """One ``anomalies`` row."""
    return {
        "anomaly_id": rec.anomaly_id,
        "app": rec.app,
        "model": rec.model,
        "user_id": rec.user_id,
        "metric": rec.metric,
        "window_start": rec.window_start,
        "expected": rec.expected,
        "actual": rec.actual,
        "score": rec.score,
        "severity": str(rec.severity.value),
        "detector": rec.detector,
        "details": _json(rec.details) if rec.details else "{}",
        "detected_at": rec.detected_at,
    }


def alert_row(rec: AlertRecord) -> dict[str, Any]:
    """One ``alerts`` row (a state or delivery update of the episode ``alert_id``)."""
    return {
        "alert_id": rec.alert_id,
        "rule": rec.rule,
        "dedup_key": rec.dedup_key,
        "state": str(rec.state.value),
        "severity": str(rec.severity.value),
        "labels": rec.labels,
        "value": rec.value,
        "threshold": rec.threshold,
        "summary": rec.summary,
        "route": rec.route,
        "delivery_status": str(rec.delivery_status.value),
        "attempts": min(max(rec.attempts, 0), 65535),
        "last_error": rec.last_error,
        "started_at": rec.started_at,
        "resolved_at": rec.resolved_at,
        "updated_at": rec.updated_at,
    }
