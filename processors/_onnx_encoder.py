"""The sentence encoder on ONNX Runtime: all-MiniLM-L6-v2 quantized to int8 (per-channel weights).

Tokenizes with the ``tokenizers`` library (the model's own ``tokenizer.json``), runs the encoder
with onnxruntime and pools like sentence-transformers (mean over the attended tokens, then L2
norm). No torch on this path. The model files ship in ``processors/artifacts/minilm-l6-v2-int8``
(``training/export_encoder.py`` makes them; ``card.json`` says from what and how close they are to
the float32 model).

Texts are sorted by token count and cut into batches padded to each batch's longest text, so a
batch of short prompts is not padded to the length of one long document.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from lightkeeper.errors import ConfigError

if TYPE_CHECKING:
    from numpy.typing import NDArray

__all__ = ["DEFAULT_MODEL_DIR", "MAX_TOKENS", "EncodedTexts", "OnnxEncoder", "default_threads"]

DEFAULT_MODEL_DIR = Path(__file__).resolve().parent / "artifacts" / "minilm-l6-v2-int8"
#: Word pieces the model reads per text, [CLS] and [SEP] included (sentence-transformers'
#: ``max_seq_length`` for this model; its position table has 512).
MAX_TOKENS = 256
#: Texts are cut to this many characters before tokenizing (a word piece is at least one
#: character, so 256 pieces never need more than a few thousand); a text cut here that still
#: tokenizes to fewer than MAX_TOKENS pieces is tokenized again in full.
MAX_CHARS = 8 * MAX_TOKENS
#: Padded tokens per model call at most (batch rows x longest row): keeps the activations of a
#: batch of long texts small.
MAX_BATCH_TOKENS = 8192


@dataclass(frozen=True)
class EncodedTexts:
    """Pooled embeddings of n texts with what the model read of each."""

    vectors: NDArray[np.float32]
    """(n, 384) float32, L2-normalized."""
    tokens: NDArray[np.int32]
    """(n,) word pieces the model read, [CLS] and [SEP] included (at most MAX_TOKENS)."""
    truncated: NDArray[np.bool_]
    """(n,) the text had more than MAX_TOKENS pieces: only its beginning was read."""


def default_threads() -> int:
    """Intra-op threads when none are configured: every core the process may use, at most 4
    (MiniLM batches gain little beyond that, and the pipeline's other stages need a core)."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not on Linux
        cores = os.cpu_count() or 1
    return max(1, min(4, cores))


def _require(path: Path) -> Path:
    if not path.is_file():
        raise ConfigError(
            f"embedding model file missing: {path} (reinstall lightkeeper[worker], or run "
            "`make export-encoder` in a source checkout)"
        )
    return path


class OnnxEncoder:
    """Holds the onnxruntime session and the tokenizer; :meth:`encode` is safe to call from one
    thread at a time (the :class:`~lightkeeper.processors.embedding.Embedder` serializes calls)."""

    def __init__(
        self,
        model_file: str | Path | None = None,
        tokenizer_dir: str | Path | None = None,
        *,
        num_threads: int | None = None,
        batch_size: int = 32,
        max_tokens: int = MAX_TOKENS,
    ) -> None:
        import onnxruntime as ort
        from tokenizers import Tokenizer

        model_path = _require(Path(model_file) if model_file else DEFAULT_MODEL_DIR / "model.onnx")
        tok_dir = Path(tokenizer_dir) if tokenizer_dir else model_path.parent
        if batch_size < 1:
            raise ConfigError(f"embedding batch_size must be >= 1, got {batch_size}")
        if not 2 < max_tokens <= 512:
            raise ConfigError(f"embedding max_tokens must be in 3..512, got {max_tokens}")
        self.model_file = model_path
        self.batch_size = batch_size
        self.max_tokens = max_tokens
        self.num_threads = num_threads if num_threads and num_threads > 0 else default_threads()
        self._tokenizer = Tokenizer.from_file(str(_require(tok_dir / "tokenizer.json")))
        self._tokenizer.no_padding()
        self._tokenizer.enable_truncation(max_length=max_tokens)
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = self.num_threads
        opts.inter_op_num_threads = 1
        opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        # Idle intra-op threads sleep instead of spinning: they would take the core the
        # pipeline's other stages and the store insert run on.
        opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
        opts.log_severity_level = 3
        try:
            self._session = ort.InferenceSession(str(model_path), opts, providers=["CPUExecutionProvider"])
        except Exception as exc:
            raise ConfigError(f"embedding model {model_path} could not be loaded: {exc}") from exc
        self._inputs = {i.name for i in self._session.get_inputs()}
        self.dim = int(self._session.get_outputs()[0].shape[-1])
        self.card = self._card(model_path.parent / "card.json")

    @staticmethod
    def _card(path: Path) -> dict[str, Any]:
        try:
            return dict(json.loads(path.read_text(encoding="utf-8")))
        except (OSError, ValueError):
            return {}

    def tokenize(self, texts: list[str]) -> tuple[list[list[int]], NDArray[np.bool_]]:
        """Token ids of each text (cut at ``max_tokens``) and whether it was cut."""
        clipped = [t[:MAX_CHARS] for t in texts]
        encodings = self._tokenizer.encode_batch(clipped, add_special_tokens=True)
        ids: list[list[int]] = []
        truncated = np.zeros(len(texts), dtype=np.bool_)
        for i, enc in enumerate(encodings):
            if len(texts[i]) > MAX_CHARS and not enc.overflowing:
                enc = self._tokenizer.encode(texts[i], add_special_tokens=True)
            ids.append(enc.ids)
            truncated[i] = bool(enc.overflowing)
        return ids, truncated

    def encode(self, texts: list[str]) -> EncodedTexts:
        n = len(texts)
        vectors = np.zeros((n, self.dim), dtype=np.float32)
        if n == 0:
            return EncodedTexts(vectors, np.zeros(0, dtype=np.int32), np.zeros(0, dtype=np.bool_))
        ids, truncated = self.tokenize(texts)
        lengths = np.fromiter((len(r) for r in ids), dtype=np.int32, count=n)
        order = np.argsort(lengths, kind="stable")
        start = 0
        while start < n:
            longest_cap = int(lengths[order[min(n, start + self.batch_size) - 1]])
            rows = max(1, min(self.batch_size, MAX_BATCH_TOKENS // max(1, longest_cap)))
            idx = order[start : start + rows]
            vectors[idx] = self._run([ids[i] for i in idx])
            start += rows
        return EncodedTexts(vectors, lengths, truncated)

    def _run(self, rows: list[list[int]]) -> NDArray[np.float32]:
        width = max(len(r) for r in rows)
        input_ids = np.zeros((len(rows), width), dtype=np.int64)
        mask = np.zeros((len(rows), width), dtype=np.int64)
        for j, r in enumerate(rows):
            input_ids[j, : len(r)] = r
            mask[j, : len(r)] = 1
        feeds = {"input_ids": input_ids, "attention_mask": mask}
        if "token_type_ids" in self._inputs:
            feeds["token_type_ids"] = np.zeros_like(input_ids)
        (hidden,) = self._session.run(["last_hidden_state"], feeds)
        weights = mask[:, :, None].astype(np.float32)
        pooled = (hidden * weights).sum(axis=1) / np.maximum(weights.sum(axis=1), 1e-9)
        norms = np.linalg.norm(pooled, axis=1, keepdims=True)
        return np.asarray(pooled / np.maximum(norms, 1e-12), dtype=np.float32)
