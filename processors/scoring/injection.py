"""Prompt-injection scorer: the user's prompt (direct injection / jailbreak) and the context the
model reads (indirect injection planted in RAG documents or tool results).

A classifier head over the shared MiniLM sentence embedding (optionally joined with char n-gram
TF-IDF; the artifact says which), trained on five public sources and chosen by
leave-one-source-out AUROC (``training/train_injection.py``, docs/detectors.md).

- An item with ``text`` and no ``context`` is a prompt: ``score`` = P(injection) of the prompt.
- An item with ``context`` (documents) is scored for planted instructions: every document is cut
  into pieces (:func:`lightkeeper.processors.scoring._chunks.context_chunks`), each piece is
  scored, and ``score`` is the highest; ``details`` name the document and piece. Its threshold
  (``context_threshold`` of the artifact) was chosen for documents, which have many pieces.

No hand-written cue lists or patterns.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from lightkeeper.processors.embedding import single_thread_blas
from lightkeeper.processors.scoring._chunks import context_chunks
from lightkeeper.processors.scoring._text_head import is_truncated, text_head_features
from lightkeeper.processors.scoring.base import ScoreInput, ScoreResult, item_embeddings, split_text_items

__all__ = ["InjectionScorer"]

MAX_DETAIL_CHARS = 300
"""Text of a flagged piece kept in ``details`` (longer ones are cut)."""


class InjectionScorer:
    """P(injection) of prompts, and of planted instructions in context documents.

    Holds the loaded artifact (classifier, optional TF-IDF vectorizer, prompt threshold and
    context threshold). Prompt ``details``: label, threshold, model_version, ``truncated`` when
    the prompt is longer than the encoder reads. Context ``details``: label, threshold,
    model_version, ``pieces`` scored, ``top_piece`` (document index, text, score) and
    ``truncated`` when a document had more pieces than are scored.
    """

    name = "injection"

    def __init__(self, artifact_path: str | None = None, embedder: Any = None) -> None:
        from lightkeeper.processors.scoring.registry import ArtifactError, load_artifact

        art = load_artifact("injection", artifact_path)
        if "patterns" in art or "cue_set" in art:
            raise ArtifactError(
                f"{art['path']} needs the cue and pattern features this release no longer has; "
                "use injection-v4 or later"
            )
        self._clf = art["clf"]
        self._tfidf = art.get("tfidf")
        self.threshold = float(art["threshold"])
        self.context_threshold = float(art.get("context_threshold", self.threshold))
        self.version = str(art["version"])
        self._embedder = embedder
        self.dim = 384

    def _get_embedder(self) -> Any:
        if self._embedder is None:
            from lightkeeper.processors.embedding import get_embedder

            self._embedder = get_embedder()
        return self._embedder

    def predict(self, texts: list[str], emb: np.ndarray) -> np.ndarray:
        """P(injection) of each text given its embedding row."""
        with single_thread_blas():
            feats = text_head_features(texts, emb, self._tfidf)
            return np.asarray(self._clf.predict_proba(feats)[:, 1], dtype=np.float64)

    def score_batch(self, items: list[ScoreInput]) -> list[ScoreResult]:
        """One result per item, in order; an item without text or context gets ``score=None``
        and an error."""
        results: list[ScoreResult | None] = [None] * len(items)
        prompt_pos = [i for i, it in enumerate(items) if it.context is None]
        context_pos = [i for i, it in enumerate(items) if it.context is not None]
        if prompt_pos:
            for i, r in zip(prompt_pos, self._score_prompts([items[i] for i in prompt_pos]), strict=True):
                results[i] = r
        if context_pos:
            for i, r in zip(context_pos, self._score_contexts([items[i] for i in context_pos]), strict=True):
                results[i] = r
        return [r if r is not None else ScoreResult(None, {"error": "not scored"}) for r in results]

    def _score_prompts(self, items: list[ScoreInput]) -> list[ScoreResult | None]:
        ok, results = split_text_items(items, self.dim)
        if ok:
            sub = [items[i] for i in ok]
            texts = [it.text for it in sub]
            probs = self.predict(texts, item_embeddings(sub, self.dim, self._get_embedder()))
            for j, i in enumerate(ok):
                p = float(np.clip(probs[j], 0.0, 1.0))
                flagged = p >= self.threshold
                details: dict[str, Any] = {
                    "label": "injection" if flagged else "benign",
                    "threshold": self.threshold,
                    "model_version": self.version,
                }
                if is_truncated(texts[j]):
                    details["truncated"] = True
                results[i] = ScoreResult(round(p, 6), details, flagged)
        return results

    def _score_contexts(self, items: list[ScoreInput]) -> list[ScoreResult | None]:
        results: list[ScoreResult | None] = [None] * len(items)
        pieces: list[str] = []
        owner: list[tuple[int, int]] = []  # (item, document) of each piece
        truncated: set[int] = set()
        for i, it in enumerate(items):
            docs = [
                (d, doc) for d, doc in enumerate(it.context or []) if isinstance(doc, str) and doc.strip()
            ]
            if not docs:
                results[i] = ScoreResult(None, {"error": "empty or missing context"})
                continue
            for d, doc in docs:  # d: the document's position in the item's context
                chunks, cut = context_chunks(doc)
                if cut:
                    truncated.add(i)
                pieces.extend(chunks)
                owner.extend((i, d) for _ in chunks)
        if not pieces:
            return results
        distinct = list(dict.fromkeys(pieces))
        probs_distinct = self.predict(
            distinct, np.asarray(self._get_embedder().embed(distinct), dtype=np.float32)
        )
        prob_of = dict(zip(distinct, probs_distinct.tolist(), strict=True))
        best: dict[int, tuple[float, int, str]] = {}
        counts: dict[int, int] = {}
        for piece, (i, d) in zip(pieces, owner, strict=True):
            p = float(np.clip(prob_of[piece], 0.0, 1.0))
            counts[i] = counts.get(i, 0) + 1
            if i not in best or p > best[i][0]:
                best[i] = (p, d, piece)
        for i, (p, d, piece) in best.items():
            flagged = p >= self.context_threshold
            details: dict[str, Any] = {
                "label": "injection" if flagged else "benign",
                "threshold": self.context_threshold,
                "model_version": self.version,
                "pieces": counts[i],
                "top_piece": {"document": d, "text": piece[:MAX_DETAIL_CHARS], "score": round(p, 6)},
            }
            if i in truncated:
                details["truncated"] = True
            results[i] = ScoreResult(round(p, 6), details, flagged)
        return results
