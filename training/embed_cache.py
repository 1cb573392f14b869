"""Embeddings of training texts, computed once per text and kept on disk outside the repository.

The cache folder (``$LIGHTKEEPER_EMBED_CACHE``, default ``/tmp/lightkeeper-train-embeddings``)
holds shards: ``<n>.keys.npy`` (SHA-1 of each text) and ``<n>.vecs.npy`` (its float32 vector).
A new text is embedded with the shared :func:`lightkeeper.processors.embedding.get_embedder`
(the same model the runtime uses), in batches that are saved as they finish, so an interrupted
run resumes.
"""

from __future__ import annotations

import hashlib
import logging
import os
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

__all__ = ["EmbeddingCache"]

log = logging.getLogger(__name__)

SHARD_TEXTS = 512


def _key(text: str) -> bytes:
    return hashlib.sha1(text.encode("utf-8", "surrogatepass"), usedforsecurity=False).digest()


class EmbeddingCache:
    """Text -> normalized embedding, backed by shards in ``directory``."""

    def __init__(self, directory: str | os.PathLike[str] | None = None) -> None:
        default = os.environ.get("LIGHTKEEPER_EMBED_CACHE", "/tmp/lightkeeper-train-embeddings")  # noqa: S108
        self.directory = Path(directory or default)
        self.directory.mkdir(parents=True, exist_ok=True)
        self._index: dict[bytes, np.ndarray] = {}
        for keys_path in sorted(self.directory.glob("*.keys.npy")):
            vecs_path = keys_path.with_name(keys_path.name.replace(".keys.", ".vecs."))
            if not vecs_path.is_file():
                continue
            keys = np.load(keys_path)
            vecs = np.load(vecs_path)
            for k, v in zip(keys, vecs, strict=True):
                self._index[bytes(k)] = v

    def __len__(self) -> int:
        return len(self._index)

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """``(len(texts), 384)`` float32 embeddings; texts not cached yet are embedded and saved."""
        keys = [_key(t) for t in texts]
        missing: dict[bytes, str] = {}
        for k, t in zip(keys, texts, strict=True):
            if k not in self._index and k not in missing:
                missing[k] = t
        if missing:
            self._compute(list(missing.items()))
        if not keys:
            return np.zeros((0, 384), dtype=np.float32)
        return np.vstack([self._index[k] for k in keys]).astype(np.float32, copy=False)

    def _compute(self, todo: list[tuple[bytes, str]]) -> None:
        from lightkeeper.processors.embedding import get_embedder

        embedder = get_embedder()
        t0 = time.perf_counter()
        # similar lengths in one batch waste less padding
        todo.sort(key=lambda kt: len(kt[1]))
        for start in range(0, len(todo), SHARD_TEXTS):
            part = todo[start : start + SHARD_TEXTS]
            vecs = np.asarray(embedder.encode_uncached([t for _, t in part]), dtype=np.float32)
            stem = f"{time.time_ns()}"
            np.save(self.directory / f"{stem}.vecs.npy", vecs)
            np.save(
                self.directory / f"{stem}.keys.npy",
                np.asarray([np.frombuffer(k, dtype=np.uint8) for k, _ in part]),
            )
            for (k, _), v in zip(part, vecs, strict=True):
                self._index[k] = v
            log.info(
                "embedded %d/%d new texts (%.0f s)", start + len(part), len(todo), time.perf_counter() - t0
            )
