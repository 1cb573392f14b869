"""Joins GenAI spans (``/v1/traces``) with the log records that carry their content (``/v1/logs``).

GenAI instrumentations (e.g. ``opentelemetry-instrumentation-openai-v2``) put the prompt and the
completion in OTLP log records/events, not on the span; the two are exported separately and
may arrive in either order. Both sides are keyed by (trace id, span id):

* A span that already has content, or has no ids, is published at once.
* A span without content waits up to ``otlp_join_window_s`` for its log records; when they
  come (or were already waiting) the event is published with the content, else it is published
  as it is when the window ends.
* Log records whose span has not arrived wait up to the same window; if no span takes them they
  are counted ``unmatched`` and dropped (a log record alone is not a call).

At most ``otlp_join_max_pending`` spans plus log groups are held; beyond it the oldest leaves
early. Held spans are published when the agent stops. Each event is published once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from lightkeeper.agent.events import scrub
from lightkeeper.agent.metrics import AgentMetrics
from lightkeeper.agent.otlp_map import log_fields
from lightkeeper.agent.settings import AgentSettings
from lightkeeper.schemas.events import LLMCallEvent

log = logging.getLogger(__name__)

Key = tuple[str, str]
LogRecordFields = tuple[str, dict[str, Any], Any]
"""(event name, attributes, body) of one GenAI log record."""


@dataclass
class _Held:
    deadline: float
    event: LLMCallEvent | None = None
    records: list[LogRecordFields] = field(default_factory=list)


def has_content(event: LLMCallEvent) -> bool:
    return bool(event.input_messages) or event.output.text is not None or bool(event.output.tool_calls)


class GenAIJoin:
    """Holds spans and log records for a bounded time; ``publish`` gets the finished events."""

    def __init__(
        self,
        settings: AgentSettings,
        metrics: AgentMetrics,
        publish: Callable[[LLMCallEvent], None],
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.settings = settings
        self.metrics = metrics
        self.publish = publish
        self.clock = clock
        self.window_s = settings.otlp_join_window_s
        self.max_pending = settings.otlp_join_max_pending
        self._spans: OrderedDict[Key, _Held] = OrderedDict()
        self._logs: OrderedDict[Key, _Held] = OrderedDict()
        self._task: asyncio.Task[None] | None = None

    @property
    def pending(self) -> int:
        return len(self._spans) + len(self._logs)

    def add_span(self, event: LLMCallEvent) -> None:
        key = (event.trace_id or "", event.span_id or "")
        waiting = self._logs.pop(key, None) if all(key) else None
        if waiting is not None:
            self._publish_joined(event, waiting.records)
            return
        if not all(key) or has_content(event) or self.window_s <= 0:
            self.publish(event)
            return
        if key in self._spans:  # the same span exported twice: the newer copy replaces it
            self._spans.pop(key)
        self._spans[key] = _Held(self.clock() + self.window_s, event=event)
        self._bound()

    def add_logs(self, key: Key, records: list[LogRecordFields]) -> None:
        held = self._spans.pop(key, None)
        if held is not None and held.event is not None:
            self._publish_joined(held.event, records)
            return
        if self.window_s <= 0:
            self.metrics.otlp_logs.labels("unmatched").inc(len(records))
            return
        group = self._logs.get(key)
        if group is None:
            group = self._logs[key] = _Held(self.clock() + self.window_s)
        group.records.extend(records)
        self._bound()

    def _publish_joined(self, event: LLMCallEvent, records: list[LogRecordFields]) -> None:
        self.metrics.otlp_logs.labels("joined").inc(len(records))
        self.metrics.otlp_join_spans.labels("joined").inc()
        self.publish(merge_content(event, records, self.settings))

    def _bound(self) -> None:
        while self.pending > self.max_pending:
            older_span = next(iter(self._spans.values()), None)
            older_logs = next(iter(self._logs.values()), None)
            if older_logs is None or (older_span is not None and older_span.deadline <= older_logs.deadline):
                self._release_span(self._spans.popitem(last=False)[1], "evicted")
            else:
                self.metrics.otlp_logs.labels("unmatched").inc(len(self._logs.popitem(last=False)[1].records))

    def _release_span(self, held: _Held, outcome: str) -> None:
        self.metrics.otlp_join_spans.labels(outcome).inc()
        if held.event is not None:
            self.publish(held.event)

    def sweep(self) -> None:
        """Publish spans and drop log records whose window ended."""
        now = self.clock()
        while self._spans and next(iter(self._spans.values())).deadline <= now:
            self._release_span(self._spans.popitem(last=False)[1], "without_logs")
        while self._logs and next(iter(self._logs.values())).deadline <= now:
            self.metrics.otlp_logs.labels("unmatched").inc(len(self._logs.popitem(last=False)[1].records))

    def flush(self) -> None:
        """Publish every held span now (the agent is stopping); held log records are unmatched."""
        while self._spans:
            self._release_span(self._spans.popitem(last=False)[1], "without_logs")
        while self._logs:
            self.metrics.otlp_logs.labels("unmatched").inc(len(self._logs.popitem(last=False)[1].records))

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._sweep_loop())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        self.flush()

    async def _sweep_loop(self) -> None:
        interval = max(0.05, min(1.0, self.window_s / 4)) if self.window_s > 0 else 1.0
        while True:
            await asyncio.sleep(interval)
            try:
                self.sweep()
            except Exception:  # a bug here must not stop the sweeping
                log.exception("OTLP join sweep failed")


def merge_content(
    event: LLMCallEvent, records: list[LogRecordFields], settings: AgentSettings
) -> LLMCallEvent:
    """``event`` with the content of its log records where the span had none (scrubbed like
    any captured content). Content that does not validate leaves the event as it was."""
    found = log_fields(records)
    if not found:
        return event
    data = event.model_dump()
    for name in ("input_messages", "finish_reasons"):
        if found.get(name) and not data.get(name):
            data[name] = found[name]
    output = data.get("output") or {}
    if "output" in found and output.get("text") is None and not output.get("tool_calls"):
        data["output"] = found["output"]
    if found.get("streaming"):
        data["streaming"] = True
    if data.get("time_to_first_token_ms") is None and found.get("time_to_first_token_ms") is not None:
        data["time_to_first_token_ms"] = found["time_to_first_token_ms"]
    scrub(data, settings)
    try:
        return LLMCallEvent.model_validate(data)
    except ValidationError as exc:
        log.warning("content of span %s from its log records is invalid: %s", event.span_id, exc)
        return event
