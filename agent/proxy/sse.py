"""Incremental Server-Sent Events parser (the subset LLM providers use).

Feed raw bytes as they arrive; complete events come out. Tolerates a stream that starts in
the middle of an event (after a capture gap): lines before the first blank line are dropped
only if they cannot be parsed.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(slots=True)
class SSEEvent:
    """One dispatched event: ``event`` name (``message`` when absent) and joined ``data`` lines."""

    event: str
    data: str


class SSEParser:
    """Splits a byte stream into :class:`SSEEvent` objects (WHATWG rules, ``id``/``retry`` ignored)."""

    __slots__ = ("_buf", "_data", "_event")

    def __init__(self) -> None:
        self._buf = b""
        self._event = ""
        self._data: list[str] = []

    def feed(self, chunk: bytes) -> list[SSEEvent]:
        """Add bytes; return the events completed by them."""
        self._buf += chunk
        out: list[SSEEvent] = []
        while True:
            idx = self._buf.find(b"\n")
            if idx < 0:
                break
            raw = self._buf[:idx]
            self._buf = self._buf[idx + 1 :]
            line = raw[:-1] if raw.endswith(b"\r") else raw
            self._line(line.decode("utf-8", "replace"), out)
        return out

    def close(self) -> list[SSEEvent]:
        """End of stream: dispatch a final event not followed by a blank line."""
        out: list[SSEEvent] = []
        if self._buf:
            self._line(self._buf.decode("utf-8", "replace"), out)
            self._buf = b""
        self._line("", out)
        return out

    def _line(self, line: str, out: list[SSEEvent]) -> None:
        if not line:
            if self._data:
                out.append(SSEEvent(self._event or "message", "\n".join(self._data)))
            self._event = ""
            self._data = []
            return
        if line.startswith(":"):
            return
        field, _, value = line.partition(":")
        if value.startswith(" "):
            value = value[1:]
        if field == "data":
            self._data.append(value)
        elif field == "event":
            self._event = value
