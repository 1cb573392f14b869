"""What the request path records about one proxied call, for the event builder to read later.

The proxy fills a :class:`Capture` with raw bytes and monotonic timestamps only (no parsing on
the request path); :mod:`lightkeeper.agent.events` turns it into an :class:`~schemas.events.LLMCallEvent`
after the response has been sent.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Protocol

#: Raw stream bytes kept from the start of a stream; beyond it only a tail is kept.
STREAM_HEAD_BYTES = 4 * 1024 * 1024
#: Raw stream bytes kept from the end of a long stream (final usage lives there).
STREAM_TAIL_BYTES = 256 * 1024


@dataclass(slots=True)
class Capture:
    """Raw facts about one call. Times are ``time.perf_counter_ns()`` values."""

    provider_kind: str
    """Wire format: ``openai`` or ``anthropic``."""
    provider_name: str
    """``gen_ai.provider.name`` recorded in the event."""
    route: str
    """Route key used for sampling and metrics: the path without query (``/v1/chat/completions``,
    ``/azure/openai/deployments/x/chat/completions``)."""
    api_path: str
    """Path as the provider sees it, used to recognise the operation."""
    method: str
    start_wall: float
    """``time.time()`` when the request arrived."""
    t_start: int
    request_body: bytes = b""
    request_content_type: str = ""
    meta_headers: dict[str, str] = field(default_factory=dict)
    """Only ``x-lightkeeper-*`` and ``traceparent`` headers (lower-case names)."""
    secrets: list[str] = field(default_factory=list)
    """Credential values seen in the request headers: scrubbed from every captured text, never stored."""
    status: int | None = None
    response_content_type: str = ""
    content_encoding: str = ""
    response_body: bytes = b""
    streaming: bool = False
    chunks: list[tuple[int, bytes]] = field(default_factory=list)
    tail: deque[tuple[int, bytes]] = field(default_factory=deque)
    head_bytes: int = 0
    tail_bytes: int = 0
    gap: bool = False
    """True when the middle of a long stream was not kept."""
    t_upstream_start: int | None = None
    t_headers: int | None = None
    t_end: int | None = None
    error_type: str | None = None
    error_message: str | None = None

    def add_chunk(self, t: int, data: bytes) -> None:
        """Keep a stream chunk (bounded: head up to STREAM_HEAD_BYTES, then a rolling tail)."""
        if self.head_bytes < STREAM_HEAD_BYTES:
            self.chunks.append((t, data))
            self.head_bytes += len(data)
            return
        self.tail.append((t, data))
        self.tail_bytes += len(data)
        while self.tail_bytes > STREAM_TAIL_BYTES and len(self.tail) > 1:
            _, old = self.tail.popleft()
            self.tail_bytes -= len(old)
            self.gap = True

    def all_chunks(self) -> list[tuple[int, bytes]]:
        return self.chunks + list(self.tail)


class CaptureSink(Protocol):
    """Where the proxy hands finished captures (the :class:`~lightkeeper.agent.recorder.Recorder`)."""

    def record(self, cap: Capture) -> None:
        """Queue a capture (never blocks or raises)."""
