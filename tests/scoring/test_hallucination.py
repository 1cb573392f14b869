"""Groundedness scorer: grounded vs ungrounded, NULL without context, batch == single, offline
artifact, per-sentence details, and the text/feature helpers."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from lightkeeper.processors.scoring._grounding_features import FEATURE_NAMES, N_FEATURES, response_features
from lightkeeper.processors.scoring._grounding_text import analyse, split_sentences
from lightkeeper.processors.scoring.base import ScoreInput

os.environ.setdefault("HF_HUB_OFFLINE", "1")

CTX = [
    "The Eiffel Tower is a wrought-iron lattice tower in Paris, France. It was designed by the company "
    "of Gustave Eiffel and completed in 1889 for the World's Fair. The tower is 330 metres tall.",
]
PAIRS = [  # (grounded, not grounded) answers to the same context
    ("The Eiffel Tower was completed in 1889.", "The Eiffel Tower was completed in 1925."),
    ("The tower is in Paris.", "The tower is located in Berlin, Germany."),
    ("It was designed by the company of Gustave Eiffel.", "It was designed by Thomas Edison's company."),
    ("The tower is 330 metres tall.", "The tower is 120 metres tall and made of glass."),
    ("It was completed for the World's Fair.", "It was not completed for the World's Fair."),
]


@pytest.fixture(scope="module")
def scorer():  # type: ignore[no-untyped-def]
    from lightkeeper.processors.scoring.hallucination import HallucinationScorer

    return HallucinationScorer()


def test_grounded_scores_below_ungrounded(scorer) -> None:  # type: ignore[no-untyped-def]
    items = [ScoreInput(text=t, context=CTX) for pair in PAIRS for t in pair]
    res = scorer.score_batch(items)
    scores = [r.score for r in res]
    assert all(s is not None and 0.0 <= s <= 1.0 for s in scores)
    good, bad = scores[0::2], scores[1::2]
    for g, b, pair in zip(good, bad, PAIRS, strict=True):
        assert g < b, (pair, g, b)
    # AUROC over the 5 pairs is perfect and the clearly fabricated ones are flagged.
    assert np.mean(bad) - np.mean(good) > 0.2
    assert sum(r.flagged for r in res[1::2]) >= 3
    assert sum(r.flagged for r in res[0::2]) <= 1


@pytest.mark.parametrize("context", [None, [], ["", "   "], [None]])
def test_no_context_gives_null(scorer, context) -> None:  # type: ignore[no-untyped-def]
    (res,) = scorer.score_batch([ScoreInput(text="Paris is in France.", context=context)])
    assert res.score is None
    assert res.details == {"reason": "no_context"}
    assert res.flagged is False


def test_empty_response_gives_null(scorer) -> None:  # type: ignore[no-untyped-def]
    res = scorer.score_batch([ScoreInput(text="  ", context=CTX), ScoreInput(text=None, context=CTX)])  # type: ignore[arg-type]
    assert [r.score for r in res] == [None, None]
    assert all(r.details["reason"] == "empty_response" for r in res)


def test_context_given_as_one_string(scorer) -> None:  # type: ignore[no-untyped-def]
    a, b = scorer.score_batch(
        [
            ScoreInput(text=PAIRS[0][1], context=CTX[0]),  # type: ignore[arg-type]
            ScoreInput(text=PAIRS[0][1], context=CTX),
        ]
    )
    assert a.score == pytest.approx(b.score, abs=1e-6)


def test_batch_and_single_agree(scorer) -> None:  # type: ignore[no-untyped-def]
    items = [
        ScoreInput(text=t, context=CTX, question="Tell me about the Eiffel Tower") for p in PAIRS for t in p
    ]
    items.insert(3, ScoreInput(text="no context here", context=None))
    batch = scorer.score_batch(items)
    for item, b in zip(items, batch, strict=True):
        (single,) = scorer.score_batch([item])
        if b.score is None:
            assert single.score is None
        else:
            assert single.score == pytest.approx(b.score, abs=1e-3)
            assert single.flagged == b.flagged


def test_prompt_with_pasted_context_is_not_a_question(scorer) -> None:  # type: ignore[no-untyped-def]
    """RAG prompts often contain the documents; that must not turn support into "copied"."""
    prompt = "Answer from these documents:\n" + CTX[0] + "\nQuestion: how tall is the tower?"
    for good, _ in PAIRS:
        (a,) = scorer.score_batch([ScoreInput(text=good, context=CTX, question=prompt)])
        (b,) = scorer.score_batch([ScoreInput(text=good, context=CTX, question=None)])
        assert a.score == pytest.approx(b.score, abs=1e-6)


def test_details_name_unsupported_sentences(scorer) -> None:  # type: ignore[no-untyped-def]
    text = "The Eiffel Tower is in Paris. It was painted gold by Napoleon in 1750."
    (res,) = scorer.score_batch([ScoreInput(text=text, context=CTX)])
    d = res.details
    assert d["model_version"].startswith("hallucination-v")
    assert len(d["sentence_scores"]) == 2
    assert d["sentence_scores"][1] > d["sentence_scores"][0]
    assert [u["index"] for u in d["unsupported_sentences"]] == [1]
    assert d["unsupported_sentences"][0]["text"].startswith("It was painted gold")


def test_embedding_failure_is_reported_not_raised() -> None:
    from lightkeeper.processors.scoring.hallucination import HallucinationScorer

    def broken(texts: list[str]) -> np.ndarray:
        raise RuntimeError("model gone")

    s = HallucinationScorer(embed=broken)
    res = s.score_batch([ScoreInput(text="x", context=CTX), ScoreInput(text="y", context=None)])
    assert res[0].score is None and "embedding failed" in res[0].details["error"]
    assert res[1].details == {"reason": "no_context"}


def test_repeated_context_is_not_reembedded(scorer) -> None:  # type: ignore[no-untyped-def]
    from lightkeeper.processors.embedding import get_embedder

    emb = get_embedder()
    scorer.score_batch([ScoreInput(text="The tower is in Paris.", context=CTX)])
    misses = emb.misses
    scorer.score_batch([ScoreInput(text="The tower is in Paris.", context=CTX)])
    assert emb.misses == misses


def test_artifact_loads_offline_without_network() -> None:
    """Load the artifact and the embedding model with sockets disabled, then score."""
    code = (
        "import socket\n"
        "def _no(*a, **k): raise OSError('network disabled in test')\n"
        "socket.socket.connect = _no\n"
        "socket.create_connection = _no\n"
        "from lightkeeper.processors.scoring.registry import get_scorer\n"
        "from lightkeeper.processors.scoring.base import ScoreInput\n"
        "s = get_scorer('hallucination')\n"
        "ctx = ['Paris is the capital of France.']\n"
        "r = s.score_batch([ScoreInput(text='Paris is in France.', context=ctx)])\n"
        "import json; print(json.dumps({'v': s.version, 'score': r[0].score}))\n"
    )
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    got = json.loads(out.stdout.strip().splitlines()[-1])
    assert got["v"].startswith("hallucination-v") and 0.0 <= got["score"] <= 1.0


def test_model_card_has_a_loso_row_per_source_with_token_overlap() -> None:
    from lightkeeper.processors.scoring.registry import artifact_path, load_artifact

    p = artifact_path("hallucination")
    card = json.loads(p.with_suffix(".json").read_text())
    assert card["version"] == p.stem and card["sklearn_version"]
    rows = {r["source"]: r for r in card["loso"]}
    assert set(rows) == {
        "halueval_qa",
        "q2_dialogue",
        "fib_summ",
        "faithdial_wow",
        "dialfact_small",
        "wice",
        "factcheck_gpt",
    }
    for r in rows.values():
        assert 0.0 <= r["model_auroc"] <= 1.0 and 0.0 <= r["baseline_auroc"] <= 1.0
    assert card["threshold"] == load_artifact("hallucination")["threshold"]
    assert all(len(h) == 64 for per_source in card["data"].values() for h in per_source.values())


def test_explain_lists_every_sentence_with_its_closest_context(scorer) -> None:  # type: ignore[no-untyped-def]
    import copy

    explaining = copy.copy(scorer)
    explaining.explain = True
    text = "The tower is in Paris. It was painted gold by Napoleon in 1750."
    (res,) = explaining.score_batch([ScoreInput(text=text, context=CTX)])
    sents = res.details["sentences"]
    assert [s["index"] for s in sents] == [0, 1]
    assert sents[0]["text"] == "The tower is in Paris." and sents[0]["closest_context"]
    assert [s["supported"] for s in sents] == [s["score"] < scorer.threshold for s in sents]
    (plain,) = scorer.score_batch([ScoreInput(text=text, context=CTX)])
    assert "sentences" not in plain.details and plain.score == res.score


def test_long_response_and_context_are_cut_and_say_so(scorer) -> None:  # type: ignore[no-untyped-def]
    from lightkeeper.processors.scoring.hallucination import MAX_RESPONSE_SENTENCES

    text = " ".join(f"The tower was repainted in {1900 + i}." for i in range(MAX_RESPONSE_SENTENCES + 5))
    (res,) = scorer.score_batch([ScoreInput(text=text, context=CTX)])
    assert res.score is not None and res.details["truncated"] is True
    assert len(res.details["sentence_scores"]) == MAX_RESPONSE_SENTENCES
    (short,) = scorer.score_batch([ScoreInput(text="The tower is in Paris.", context=CTX)])
    assert "truncated" not in short.details


def test_missing_model_file_is_a_clear_error_naming_it(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from lightkeeper.processors.scoring.hallucination import HallucinationScorer
    from lightkeeper.processors.scoring.registry import ArtifactError

    missing = tmp_path / "hallucination-v9.joblib"
    with pytest.raises(ArtifactError, match=f"model file {missing} not found"):
        HallucinationScorer(artifact_path=str(missing))


# --- helpers -------------------------------------------------------------------------------------


def test_split_sentences() -> None:
    assert split_sentences("Dr. Smith went home. He slept!  Then? ok") == [
        "Dr. Smith went home.",
        "He slept!",
        "Then?",
        "ok",
    ]
    assert split_sentences("in the 19th century.First for Women is") == [
        "in the 19th century.",
        "First for Women is",
    ]
    assert split_sentences("   ") == []


def test_text_facts() -> None:
    f = analyse("In March 1996 Hillary Clinton didn't sell 10,000 copies of three books.")
    assert {"1996", "10000", "3"} <= f.numbers
    assert "march" in f.months and "1996" in f.years
    assert "hillary" in f.entities and "clinton" in f.entities
    assert f.negated
    assert analyse("i ' m not sure , it is nice .").hedged


def test_features_shape_and_signals() -> None:
    def fake_embed(texts: list[str]) -> np.ndarray:
        rng = np.random.default_rng(0)
        v = rng.normal(size=(len(texts), 8)).astype(np.float32)
        return v / np.linalg.norm(v, axis=1, keepdims=True)

    _, X = response_features("It opened in 1925. It is in Paris.", CTX, fake_embed)
    assert X.shape == (2, N_FEATURES) and len(FEATURE_NAMES) == N_FEATURES
    col = {n: i for i, n in enumerate(FEATURE_NAMES)}
    assert X[0, col["num_novel_frac"]] == 1.0 and X[1, col["num_novel_frac"]] == 0.0
    assert X[1, col["tok_prec"]] == 1.0
    _, none = response_features("x", [], fake_embed)
    assert none.shape == (0, N_FEATURES)
