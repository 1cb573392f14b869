"""What the pipeline consumes and what it rejects: a message's bytes with where they came
from, and a dead letter with the reason (re-exported by :mod:`lightkeeper.processors.pipeline`)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(slots=True)
class RawEvent:
    """One message as consumed: the original bytes and where they came from."""

    value: bytes
    key: bytes | None = None
    topic: str = ""
    partition: int = -1
    offset: int = -1
    timestamp_ms: int | None = None


@dataclass(slots=True)
class DeadLetter:
    """An input that cannot be processed: original bytes, the reason and where it came from."""

    value: bytes
    reason: str
    stage: str
    """``decode`` (not a valid event), ``row`` (cannot become a row) or ``store`` (refused)."""
    key: bytes | None = None
    topic: str = ""
    partition: int = -1
    offset: int = -1

    @classmethod
    def of(cls, raw: RawEvent, reason: str, stage: str) -> DeadLetter:
        return cls(raw.value, reason[:2000], stage, raw.key, raw.topic, raw.partition, raw.offset)

    def headers(self) -> list[tuple[str, bytes]]:
        """Kafka headers describing the failure."""
        return [
            ("lightkeeper.reason", self.reason.encode()),
            ("lightkeeper.stage", self.stage.encode()),
            ("lightkeeper.source.topic", self.topic.encode()),
            ("lightkeeper.source.partition", str(self.partition).encode()),
            ("lightkeeper.source.offset", str(self.offset).encode()),
        ]
