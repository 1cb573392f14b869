"""Token-pooling experiment of toxicity (training/_tox_token_pool.py): masking of
padding and special tokens, the poolings, one forward pass giving the usual sentence embedding,
the cache, and that the experiment leaves the v3 trainer as it found it."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from lightkeeper.processors.embedding import get_embedder
from training import _tox_token_pool as tp


def test_content_tokens_drop_padding_and_special_tokens() -> None:
    tokens = np.arange(6 * 2, dtype=np.float32).reshape(6, 2)
    mask = np.array([1, 1, 1, 1, 0, 0])  # [CLS] a b [SEP] pad pad
    assert np.array_equal(tp.content_tokens(tokens, mask), tokens[1:3])
    # nothing but [CLS] [SEP]: keep them rather than return no token at all
    assert np.array_equal(tp.content_tokens(tokens, np.array([1, 1, 0, 0, 0, 0])), tokens[:2])


def test_poolings() -> None:
    tok = np.array([[3.0, 0.0], [0.0, -1.0], [-4.0, 0.5], [0.1, 0.1]], dtype=np.float32)
    assert np.allclose(tp.pool(tok, "max"), np.array([3.0, 0.5]) / np.hypot(3.0, 0.5))
    assert np.allclose(tp.pool(tok, "min"), np.array([-4.0, -1.0]) / np.hypot(4.0, 1.0))
    # top 3 by norm: rows 2 (4.03), 0 (3.0), 1 (1.0); their mean is (-1/3, -1/6)
    top = np.array([-1 / 3, -1 / 6])
    assert np.allclose(tp.pool(tok, "topk"), top / np.linalg.norm(top))
    with pytest.raises(ValueError, match="unknown pooling"):
        tp.pool(tok, "mean")


def test_one_pass_gives_sentence_embedding_and_unpadded_tokens(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LIGHTKEEPER_CACHE_DIR", str(tmp_path))
    short = "Jews are not greedy."
    long = "This much longer sentence forces the short one to be padded inside the same batch, " * 3
    sent, toks = tp.tokens_cached("t", [short, long])
    assert np.allclose(sent, get_embedder().encode_uncached([short, long]), atol=1e-5)
    n_pieces = len(get_embedder()._model.tokenizer(short)["input_ids"])
    assert toks[0].shape == (n_pieces - 2, 384)
    alone_sent, alone = tp.tokens_cached("t_alone", [short])
    assert np.allclose(alone[0].astype(np.float32), toks[0].astype(np.float32), atol=2e-2)
    assert np.allclose(alone_sent[0], sent[0], atol=1e-5)
    files = sorted(p.name for p in (tmp_path / "train-embeddings").iterdir())
    assert len(files) == 2 and all(f.startswith("toktok-") for f in files)
    again_sent, again = tp.tokens_cached("t", [short, long])  # from the cache
    assert np.array_equal(again_sent, sent) and all(
        np.array_equal(a, b) for a, b in zip(again, toks, strict=True)
    )


def test_run_restores_the_v3_trainer(monkeypatch: pytest.MonkeyPatch) -> None:
    from training import train_toxicity as t2
    from training import train_toxicity_v3 as t3

    before = (t3.embed_cached, t2.embed_cached, t3._Model)

    def boom(**_: object) -> dict[str, object]:
        assert t3.embed_cached is not before[0] and t3._Model is not before[2]
        raise RuntimeError("stop")

    monkeypatch.setattr(t3, "train", boom)
    with pytest.raises(RuntimeError, match="stop"):
        tp.run("attn-vec", echo=lambda _: None)
    assert (t3.embed_cached, t2.embed_cached, t3._Model) == before
    with pytest.raises(ValueError, match="unknown pooling"):
        tp.run("mean", echo=lambda _: None)


def test_round2_lists_are_new_and_split_even_odd() -> None:
    from training import augment_toxicity as a
    from training import augment_toxicity_v3 as b
    from training._tox_extra_r2 import CLEAN_R2, TOXIC_R2, r2_split

    trained = set(a.CLEAN_COUNTER + a.CLEAN_EVERYDAY + a.CLEAN_DIRECT + a.TOXIC_EXTRA + a.TOXIC_EVERYDAY)
    trained |= set(a.TOXIC_DIRECT + b.CLEAN_V3 + b.TOXIC_V3)
    assert not trained & set(CLEAN_R2 + TOXIC_R2)
    assert len(set(CLEAN_R2 + TOXIC_R2)) == len(CLEAN_R2) + len(TOXIC_R2)
    (c_tr, t_tr), (c_ho, t_ho) = r2_split()
    assert c_tr == CLEAN_R2[0::2] and c_ho == CLEAN_R2[1::2]
    assert t_tr == TOXIC_R2[0::2] and t_ho == TOXIC_R2[1::2]
    with pytest.raises(ValueError, match="unknown suffix"):
        tp.run("max+r3", echo=lambda _: None)
