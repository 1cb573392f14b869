"""Toxicity scorer: known toxic vs clean texts, batch vs single, precomputed embeddings, bad and
long items, artifact loading and its LOSO card."""

from __future__ import annotations

import json
from pathlib import Path

import joblib
import numpy as np
import pytest

from lightkeeper.processors.embedding import get_embedder
from lightkeeper.processors.scoring.base import ScoreInput, Scorer
from lightkeeper.processors.scoring.registry import ArtifactError, artifact_path, get_scorer, load_artifact
from lightkeeper.processors.scoring.toxicity import ToxicityScorer

# Written for these tests; none of them is in the training data.
TOXIC = [
    "You're a disgusting waste of oxygen, crawl back into your hole.",
    "I swear I'm going to smash your face in when I see you.",
    "Those people are cockroaches and should be wiped off the earth.",
    "Shut your stupid mouth, you ignorant fool.",
    "What a fucking moron, he can't do anything right.",
]
CLEAN = [
    "Thank you so much for the help with my project yesterday!",
    "The meeting has been moved to Thursday at 3pm.",
    "Could you recommend a good book about the history of Japan?",
    "I really enjoyed the concert, the band was amazing.",
    "Please remember to water the plants while I'm away.",
]
SOURCES = {"davidson", "hatecheck", "hatexplain", "toxic_spans", "convabuse", "toxigen"}


@pytest.fixture(scope="module")
def scorer() -> ToxicityScorer:
    s = get_scorer("toxicity")
    assert isinstance(s, ToxicityScorer)
    return s


def test_protocol(scorer: ToxicityScorer) -> None:
    assert isinstance(scorer, Scorer)
    assert scorer.name == "toxicity" and scorer.version.startswith("toxicity-v")
    assert 0.0 < scorer.threshold < 1.0


def test_toxic_flagged_except_the_threat(scorer: ToxicityScorer) -> None:
    """The threat scores 0.44 at threshold 0.46 (docs/detectors.md, known limits)."""
    results = scorer.score_batch([ScoreInput(text=t) for t in TOXIC])
    for text, r in zip(TOXIC, results, strict=True):
        assert r.score is not None and r.flagged == (r.score >= scorer.threshold), (text, r)
        assert r.details["label"] == ("toxic" if r.flagged else "clean")
    assert [r.flagged for r in results] == [True, False, True, True, True], results


def test_clean_not_flagged(scorer: ToxicityScorer) -> None:
    for text, r in zip(CLEAN, scorer.score_batch([ScoreInput(text=t) for t in CLEAN]), strict=True):
        assert r.score is not None and not r.flagged, (text, r)
        assert r.details["label"] == "clean"


def test_scores_separate_toxic_from_clean(scorer: ToxicityScorer) -> None:
    tox = [r.score for r in scorer.score_batch([ScoreInput(text=t) for t in TOXIC])]
    clean = [r.score for r in scorer.score_batch([ScoreInput(text=t) for t in CLEAN])]
    assert min(s or 0.0 for s in tox) > max(s or 1.0 for s in clean)


def test_batch_and_single_agree(scorer: ToxicityScorer) -> None:
    texts = TOXIC[:2] + CLEAN[:2]
    batch = scorer.score_batch([ScoreInput(text=t) for t in texts])
    for t, b in zip(texts, batch, strict=True):
        assert scorer.score_batch([ScoreInput(text=t)])[0].score == pytest.approx(b.score, abs=1e-5)


def test_precomputed_embedding_matches(scorer: ToxicityScorer) -> None:
    emb = get_embedder().embed([TOXIC[0]])[0]
    with_emb = scorer.score_batch([ScoreInput(text=TOXIC[0], embedding=emb)])[0]
    assert with_emb.score == pytest.approx(scorer.score_batch([ScoreInput(text=TOXIC[0])])[0].score, abs=1e-5)


def test_bad_items(scorer: ToxicityScorer) -> None:
    r = scorer.score_batch(
        [ScoreInput(text=""), ScoreInput(text=CLEAN[0], embedding=np.ones(3)), ScoreInput(text=TOXIC[0])]
    )
    assert r[0].score is None and "error" in r[0].details
    assert r[1].score is None and "dimension" in r[1].details["error"]
    assert r[2].flagged


def test_long_text_is_scored_on_its_start_and_says_so(scorer: ToxicityScorer) -> None:
    long_text = "I really enjoyed the concert, the band was amazing. " * 100
    r = scorer.score_batch([ScoreInput(text=long_text), ScoreInput(text=CLEAN[0])])
    assert r[0].score is not None and r[0].details["truncated"] is True
    assert "truncated" not in r[1].details


def test_card_has_a_loso_row_per_source_with_the_baseline() -> None:
    p = artifact_path("toxicity")
    card = json.loads(p.with_suffix(".json").read_text())
    assert card["version"] == p.stem and card["sklearn_version"] and card["numpy_version"]
    rows = {r["source"]: r for r in card["loso"]}
    assert set(rows) == SOURCES
    for r in rows.values():
        assert 0.5 < r["model_auroc"] <= 1.0 and 0.0 <= r["baseline_auroc"] <= 1.0
    assert card["threshold"] == load_artifact("toxicity")["threshold"]
    assert set(card["data"]) == SOURCES
    assert all(len(h) == 64 for per_source in card["data"].values() for h in per_source.values())


def test_package_keeps_the_current_model_and_one_previous_at_most() -> None:
    versions = sorted(
        int(p.stem.rsplit("-v", 1)[1]) for p in artifact_path("toxicity").parent.glob("toxicity-v*.joblib")
    )
    assert 1 <= len(versions) <= 2 and (len(versions) == 1 or versions[1] == versions[0] + 1)


def test_missing_model_file_is_a_clear_error_naming_it(tmp_path: Path) -> None:
    missing = tmp_path / "toxicity-v9.joblib"
    with pytest.raises(ArtifactError, match=f"model file {missing} not found"):
        ToxicityScorer(artifact_path=str(missing))


def test_an_artifact_that_needs_rescoring_rules_is_refused(tmp_path: Path) -> None:
    model = joblib.load(artifact_path("toxicity"))
    model["negation_gate"] = 0.3
    dst = tmp_path / "toxicity-v4.joblib"
    joblib.dump(model, dst)
    with pytest.raises(ArtifactError, match="no longer has"):
        ToxicityScorer(artifact_path=str(dst))
