"""Builds events from captures off the request path and hands them to the sink.

Handlers call :meth:`Recorder.record` (a deque append). A background task builds the
events in small batches, yielding to the event loop between them. Any exception while
building is counted (``lightkeeper_agent_event_build_errors_total``) and logged with the
route, never propagated: monitoring bugs must not touch the application.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections import deque

from lightkeeper.agent.capture import Capture
from lightkeeper.agent.context import ContextCache, RecentEvents
from lightkeeper.agent.events import build_event, scrub_event
from lightkeeper.agent.metadata import context_problem
from lightkeeper.agent.metrics import AgentMetrics
from lightkeeper.agent.publisher import EventSink
from lightkeeper.agent.settings import AgentSettings
from lightkeeper.schemas.events import LLMCallEvent

log = logging.getLogger(__name__)

#: Longest stretch of event building before the loop serves requests again (no backlog).
_SLICE_S = 0.0005
#: With a backlog the slice grows (one more base slice per _BACKLOG_STEP queued captures) up to
#: _MAX_SLICE_S, so that under overload event building keeps up with the proxy instead of the
#: capture queue filling up and dropping; at normal load the slice stays at _SLICE_S.
_BACKLOG_STEP = 256
_MAX_SLICE_S = 0.010
#: Captures at least this large (request + response bytes) are built in a worker thread: PII
#: scanning of a large body (names enabled: ~1 ms per KB measured) would otherwise hold the event
#: loop, and every proxied call with it, for hundreds of ms. The scan returns to Python at each
#: candidate match, so the loop thread gets the GIL back every switch interval (5 ms).
LARGE_CAPTURE_BYTES = 32 * 1024
#: A capture arriving at an idle recorder is built this long after it was queued, not at once.
#: A client that chains calls sends its next request right after reading a response; built at
#: once, that request would wait behind the event build (~0.2 ms) before the proxy even reads it.
#: Events leave in Kafka batches that linger longer than this anyway.
_DEFER_S = 0.002


def event_key(event: LLMCallEvent) -> bytes:
    """Kafka key: the trace id when there is one (a trace stays on one partition), else the event id."""
    return (event.trace_id or event.event_id).encode()


def capture_bytes(cap: Capture) -> int:
    """Captured body bytes of a call: request, response, and kept stream chunks."""
    return len(cap.request_body) + len(cap.response_body) + cap.head_bytes + cap.tail_bytes


def encode(event: LLMCallEvent) -> bytes:
    return event.__pydantic_serializer__.to_json(event)


class Recorder:
    """Bounded queue of captures plus the task that turns them into published events."""

    def __init__(
        self, settings: AgentSettings, sink: EventSink, metrics: AgentMetrics, contexts: ContextCache
    ) -> None:
        self.settings = settings
        self.sink = sink
        self.metrics = metrics
        self.contexts = contexts
        self._queue: deque[Capture] = deque()
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._closing = False
        self._rng = random.Random()
        self.recent = RecentEvents(settings.context_ttl_s, settings.late_context_events)

    def record(self, cap: Capture) -> None:
        """Queue a capture (never blocks or raises)."""
        if len(self._queue) >= self.settings.buffer_size:
            self.metrics.dropped.labels("capture_queue_full").inc()
            self.metrics.events.labels("dropped").inc()
            return
        self._queue.append(cap)
        if not self._wake.is_set():
            self._wake.set()

    def publish(self, event: LLMCallEvent) -> None:
        """Publish an already-built event (OTLP, ingest)."""
        self.sink.submit(event_key(event), encode(event))
        self.metrics.events.labels("built").inc()

    def attach_late(self, trace_id: str, documents: list[dict[str, object]]) -> bool:
        """Re-publish the trace's last context-less event with ``documents``; False if none is held."""
        event = self.recent.pop(trace_id)
        if event is None:
            return False
        data = event.model_dump()
        data["context_documents"] = documents
        data["metadata"] = {**data["metadata"], "context_attached_late": True}
        self.publish(scrub_event(LLMCallEvent.model_validate(data), self.settings))
        return True

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="lk-recorder")

    async def stop(self) -> None:
        self._closing = True
        self._wake.set()
        if self._task is not None:
            await self._task

    async def _run(self) -> None:
        while True:
            if not self._queue:
                if self._closing:
                    return
                self._wake.clear()
                await self._wake.wait()
                if not self._closing:
                    await asyncio.sleep(_DEFER_S)
            backlog = len(self._queue)
            slice_end = time.perf_counter() + min(_SLICE_S * (1 + backlog // _BACKLOG_STEP), _MAX_SLICE_S)
            while self._queue and time.perf_counter() < slice_end:
                cap = self._queue.popleft()
                try:
                    if capture_bytes(cap) >= LARGE_CAPTURE_BYTES:
                        # one at a time: the next capture waits, so nothing else builds concurrently
                        event = await asyncio.to_thread(
                            build_event, cap, self.settings, self.contexts, self._rng
                        )
                    else:
                        event = build_event(cap, self.settings, self.contexts, self._rng)
                    self.publish(event)
                    if event.metadata and "context_header_error" in event.metadata:
                        problem = context_problem(event.metadata)
                        self.metrics.capture_problems.labels(problem or "context_header_invalid").inc()
                    if event.trace_id and event.context_documents is None and event.body_sampled:
                        self.recent.remember(event.trace_id, event)
                except Exception:
                    self.metrics.build_errors.inc()
                    log.exception("could not build the event of a %s call to %s", cap.method, cap.route)
            await asyncio.sleep(0)
