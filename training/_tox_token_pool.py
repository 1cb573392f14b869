"""Experiment (issue #6, round 2; NOT shipped): do token-level poolings of the shared MiniLM
forward pass help toxicity-v3 generalize?

Mean pooling throws away token-level information (a "not", a slur, "you" + insult). The same
forward pass also yields the last-layer token embeddings, so extra poolings of them would cost
almost nothing at scoring time. This module reruns toxicity-v3's exact protocol
(:func:`training.train_toxicity_v3.train`, cues + quote framing, same data, weights,
calibration and threshold rule) with the feature vector ``[mean-pooled embedding, extra
pooling(s), cues]`` and prints the same report. Variants (:data:`VARIANTS`):

* ``none``: no extra pooling (reproduces v3's figures: the protocol check);
* ``max`` / ``min`` / ``topk`` (comma-joined for several, ``@a`` to scale the blocks by ``a``):
  per-dimension max / min over the content tokens, mean of the ``TOP_K`` tokens with the largest
  L2 norm; each block L2-normalized;
* ``attn-vec`` / ``attn-scal`` / ``attn-both``: attention pooling fitted on the training folds
  only. Each fitted model first fits v3's logistic regression, takes its embedding weights as
  the query ``q`` (unit norm), scores every content token (unit norm) by ``s = t.q`` and adds the
  softmax(``ATTN_BETA`` * s)-weighted token mean (``vec``, normalized), the max / min / top-3
  mean of ``s`` (``scal``, times ``ATTN_SCALAR_SCALE``) or both, then refits on everything.

Run: ``nice -n 10 python -m training._tox_token_pool max max,min topk max@0.5
attn-vec attn-scal attn-both``. The artifacts go to a temporary folder and are deleted. The
token embeddings are cached like :func:`training.common.embed_cached` (cache names
``toktok-*``, float16). Results are in docs/detectors.md (toxicity, "tried and lost").
"""

from __future__ import annotations

import hashlib
import logging
import sys
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from training.common import cache_dir

__all__ = ["POOLINGS", "TOP_K", "VARIANTS", "content_tokens", "pool", "run", "tokens_cached"]

log = logging.getLogger(__name__)

#: Extra poolings over the content tokens, by name.
POOLINGS: tuple[str, ...] = ("max", "min", "topk")
#: Variants measured for docs/detectors.md.
VARIANTS: tuple[str, ...] = (
    "none",
    "max",
    "topk",
    "max,min",
    "max@0.5",
    "attn-vec",
    "attn-scal",
    "attn-both",
)
TOP_K = 3
ATTN_BETA = 20.0
ATTN_SCALAR_SCALE = 5.0
DIM = 384


def content_tokens(tokens: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """The rows of ``tokens`` (one text's padded ``(L, 384)`` token embeddings) where ``mask``
    is 1, without ``[CLS]`` and the final ``[SEP]`` when any other token is left."""
    idx = np.flatnonzero(np.asarray(mask) > 0)
    if len(idx) > 2:
        idx = idx[1:-1]
    return np.asarray(tokens)[idx]


def pool(tokens: np.ndarray, name: str) -> np.ndarray:
    """One pooling (``max``, ``min`` or ``topk``) of content ``tokens`` ``(n, 384)``, as a
    float32 ``(384,)`` vector with unit L2 norm."""
    tok = np.asarray(tokens, dtype=np.float32)
    if name == "max":
        v = tok.max(axis=0)
    elif name == "min":
        v = tok.min(axis=0)
    elif name == "topk":
        v = tok[np.argsort(-np.linalg.norm(tok, axis=1), kind="stable")[:TOP_K]].mean(axis=0)
    else:
        raise ValueError(f"unknown pooling {name!r}; expected one of {POOLINGS}")
    return (v / max(float(np.linalg.norm(v)), 1e-9)).astype(np.float32)


def tokens_cached(name: str, texts: Sequence[str], chunk: int = 256) -> tuple[np.ndarray, list[np.ndarray]]:
    """One forward pass per text: sentence embeddings ``(n, 384)`` (mean-pooled, normalized, as
    :meth:`lightkeeper.processors.embedding.Embedder.encode_uncached`) and per text its content-token
    embeddings (last layer, float16 ``(tokens, 384)``). Cached per chunk of ``chunk`` texts as
    ``toktok-<name>-<sha1>.npz`` (concatenated tokens + offsets; an interrupted run resumes)."""
    from lightkeeper.processors.embedding import MAX_CHARS, MODEL_NAME, get_embedder

    n = len(texts)
    sent = np.empty((n, DIM), dtype=np.float32)
    toks: list[np.ndarray] = []
    d = cache_dir()
    for i in range(0, n, chunk):
        part = list(texts[i : i + chunk])
        h = hashlib.sha1(MODEL_NAME.encode(), usedforsecurity=False)
        h.update(b"toktok")
        for t in part:
            h.update(t.encode("utf-8", "surrogatepass"))
            h.update(b"\x00")
        path = d / f"toktok-{name}-{h.hexdigest()[:20]}.npz"
        if not path.is_file():
            emb = get_embedder()
            with emb._lock:  # the experiment borrows the process embedder's model
                out = emb._model.encode(
                    [t[:MAX_CHARS] for t in part], batch_size=32, output_value=None, show_progress_bar=False
                )
            s = np.stack([o["sentence_embedding"].float().cpu().numpy() for o in out])
            tl = [
                content_tokens(o["token_embeddings"].float().cpu().numpy(), o["attention_mask"].cpu().numpy())
                for o in out
            ]
            offs = np.cumsum([0] + [len(x) for x in tl])
            np.savez(path, sent=s, tok=np.vstack(tl).astype(np.float16), offs=offs)
            log.info("token embeddings %s: %d/%d", name, min(i + chunk, n), n)
        z = np.load(path)
        sent[i : i + len(part)] = z["sent"]
        tok, offs = z["tok"], z["offs"]
        toks += [tok[offs[k] : offs[k + 1]] for k in range(len(part))]
    return sent, toks


class _Tokens:
    """Unit-norm float32 content-token embeddings of every text seen by :meth:`embed` (text ->
    ``(tokens, 384)``), plus the pooled-feature function that v3's trainer calls instead of
    ``embed_cached``."""

    def __init__(self, blocks: list[str], scale: float) -> None:
        self.blocks, self.scale = blocks, scale
        self.by_text: dict[str, np.ndarray] = {}

    def embed(self, name: str, texts: Sequence[str], chunk: int = 256) -> np.ndarray:
        """``[sentence embedding, scale * pooling for each block]`` per text."""
        sent, toks = tokens_cached(name, texts, chunk)
        cols = [sent]
        for t, x in zip(texts, toks, strict=True):
            x32 = x.astype(np.float32)
            self.by_text[t] = x32 / np.maximum(np.linalg.norm(x32, axis=1, keepdims=True), 1e-9)
        for b in self.blocks:
            cols.append(
                self.scale * np.stack([pool(x, b) for x in toks]) if len(toks) else np.zeros((0, DIM))
            )
        return np.hstack(cols).astype(np.float32)

    def attention(self, texts: list[str], q: np.ndarray, mode: str) -> np.ndarray:
        """Attention features of ``texts`` for the unit query ``q`` (see the module docstring)."""
        rows = []
        for t in texts:
            tok = self.by_text[t]
            s = tok @ q
            a = np.exp(ATTN_BETA * (s - s.max()))
            a /= a.sum()
            v = a @ tok
            row = []
            if mode in ("vec", "both"):
                row.append(v / max(float(np.linalg.norm(v)), 1e-9))
            if mode in ("scal", "both"):
                row.append(ATTN_SCALAR_SCALE * np.array([s.max(), s.min(), np.sort(s)[-3:].mean()]))
            rows.append(np.concatenate(row))
        return np.asarray(rows, dtype=np.float64)


def _attention_model(base_cls: Any, tokens: _Tokens, mode: str) -> Any:
    """A subclass of v3's ``_Model`` whose features add attention pooling (query fitted on the
    model's own training parts only)."""
    from sklearn.linear_model import LogisticRegression

    from lightkeeper.processors.scoring.toxicity import toxicity_features
    from training import train_toxicity_v3 as t3
    from training.train_toxicity import _balanced

    class AttentionModel(base_cls):
        def __init__(self, parts: list[Any], cues: bool, calibrate: bool) -> None:
            self.cues = t3.COUNTER_CUES if cues else ()
            texts = [t for p in parts for t in p.texts]
            x = toxicity_features(texts, np.vstack([p.emb for p in parts]), cues=self.cues)
            y = np.concatenate([p.y for p in parts])
            w = np.concatenate([p.w for p in parts])
            stage1 = LogisticRegression(C=t3.C3, max_iter=3000, random_state=t3.SEED)
            stage1.fit(x, y, sample_weight=_balanced(y, w))
            q = stage1.coef_[0][:DIM].astype(np.float32)
            self.q = q / max(float(np.linalg.norm(q)), 1e-9)
            self.clf = t3._fit(np.hstack([x, tokens.attention(texts, self.q, mode)]), y, w, calibrate)

        def predict(self, texts: list[str], emb: np.ndarray) -> np.ndarray:
            x = toxicity_features(texts, emb, cues=self.cues)
            x = np.hstack([x, tokens.attention(texts, self.q, mode)])
            return np.asarray(self.clf.predict_proba(x)[:, 1])

    return AttentionModel


def run(variant: str, echo: Callable[[str], None] = print) -> dict[str, Any]:
    """v3's protocol (cues + quote framing) with the features of ``variant`` (a ``+r2`` suffix
    also trains on the even half of :mod:`training._tox_extra_r2`, weight 5 like
    v3's hand-written lists); returns the card, with ``r2_heldout`` (the odd half of those lists
    scored by the final model; pooling variants only). v3's module globals are patched only for
    the duration of the call."""
    from training import train_toxicity as t2
    from training import train_toxicity_v3 as t3

    features, _, extra = variant.partition("+")
    if extra not in ("", "r2"):
        raise ValueError(f"unknown suffix {extra!r} in variant {variant!r}; expected '+r2'")
    attn = features.startswith("attn-")
    spec, _, scale = features.partition("@")
    blocks = [] if attn or spec == "none" else [b for b in spec.split(",") if b]
    for b in blocks:
        if b not in POOLINGS:
            raise ValueError(f"unknown pooling {b!r} in variant {variant!r}; expected {POOLINGS}")
    tokens = _Tokens(blocks, float(scale) if scale else 1.0)
    saved = (t3.embed_cached, t2.embed_cached, t3._Model, t3.v3_split)
    t3.embed_cached = t2.embed_cached = tokens.embed
    if attn:
        t3._Model = _attention_model(saved[2], tokens, features.removeprefix("attn-"))  # type: ignore[misc]
    if extra:
        t3.v3_split = _with_r2(saved[3])
    try:
        with tempfile.TemporaryDirectory() as tmp:
            echo(f"token-pooling variant {variant}")
            card = t3.train(out_dir=tmp, variants=((True, True),), echo=echo)
            if not attn:
                card["r2_heldout"] = _score_r2(tokens, Path(tmp) / "toxicity-v3.joblib", echo)
            return card
    finally:
        t3.embed_cached, t2.embed_cached, t3._Model, t3.v3_split = saved  # type: ignore[misc]


def _with_r2(split: Callable[[], Any]) -> Callable[[], Any]:
    """``v3_split`` with the even half of the round-2 lists added to its training lists."""
    from training._tox_extra_r2 import r2_split

    def extended() -> Any:
        (c_tr, t_tr), held = split()
        (rc_tr, rt_tr), _ = r2_split()
        return (c_tr + rc_tr, t_tr + rt_tr), held

    return extended


def _score_r2(tokens: _Tokens, model_path: Path, echo: Callable[[str], None]) -> dict[str, float]:
    """AUROC, toxic recall and clean FPR at the threshold of the model at ``model_path`` on the
    odd (never trained) half of the round-2 lists (no quotes in them: no quote framing)."""
    import joblib

    from lightkeeper.processors.scoring.toxicity import toxicity_features
    from training._tox_extra_r2 import r2_split
    from training.common import binary_metrics

    art = joblib.load(model_path)
    _, (clean, toxic) = r2_split()
    texts = clean + toxic
    y = np.r_[np.zeros(len(clean)), np.ones(len(toxic))].astype(np.int64)
    x = toxicity_features(texts, tokens.embed("tox_r2_heldout", texts), cues=tuple(art["cues"]))
    p = np.asarray(art["clf"].predict_proba(x)[:, 1])
    thr = float(art["threshold"])
    out = {
        "auroc": binary_metrics(y, p)["auroc"],
        "toxic_recall": round(float(np.mean(p[y == 1] >= thr)), 4),
        "clean_fpr": round(float(np.mean(p[y == 0] >= thr)), 4),
    }
    echo(f"    round-2 harassment/threat/violence held out (16+16): {out}")
    return out


def main(argv: list[str] | None = None) -> int:
    """Run the variants named on the command line (default: all of :data:`VARIANTS`)."""
    import os

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    for v in (argv if argv is not None else sys.argv[1:]) or VARIANTS:
        run(v, echo=lambda s: print(s, flush=True))
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
