"""Synthetic streams for the drift tests: clustered unit vectors stand in for MiniLM embeddings
(real embeddings are exercised by ``bench/drift.py``)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np

from lightkeeper.processors.drift import DriftObservation

T0 = datetime(2026, 3, 1, tzinfo=UTC)
DIM = 384
TOPIC_WORDS = ["weather", "football", "cooking", "finance"]


class SyntheticStream:
    """Events from one of several topics; ``take(topic, n)`` continues the clock."""

    def __init__(self, seed: int = 0, n_topics: int = 3) -> None:
        self.rng = np.random.default_rng(seed)
        self.centers = self.rng.normal(size=(n_topics, DIM))
        self.i = 0

    def _emb(self, topic: int) -> np.ndarray:
        v = self.rng.normal(size=DIM) + 0.35 * self.centers[topic]
        return (v / np.linalg.norm(v)).astype(np.float32)

    def take(
        self, topic: int, n: int, *, app: str = "app", model: str = "m", **kw: object
    ) -> list[DriftObservation]:
        out = []
        for _ in range(n):
            out.append(
                DriftObservation(
                    app=app,
                    model=model,
                    event_time=T0 + timedelta(seconds=self.i),
                    prompt_embedding=self._emb(topic),
                    response_embedding=self._emb(topic),
                    metadata={
                        "input_tokens": float(self.rng.gamma(2.0, 40.0)),
                        "output_tokens": float(self.rng.gamma(2.0, 60.0)),
                        "finish_reason": "stop" if self.rng.random() < 0.9 else "length",
                    },
                    prompt=f"prompt {self.i} about {TOPIC_WORDS[topic]}",
                    response=f"response {self.i} on {TOPIC_WORDS[topic]}",
                    event_id=str(self.i),
                    **kw,  # type: ignore[arg-type]
                )
            )
            self.i += 1
        return out
