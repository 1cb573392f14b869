"""Toxicity scorer: known toxic vs clean texts, counter-speech/negation/quotes, batch vs single,
precomputed embeddings, bad items, artifact card."""

from __future__ import annotations

import json

import numpy as np
import pytest

from processors.embedding import get_embedder
from processors.scoring.base import ScoreInput, Scorer
from processors.scoring.registry import artifact_path, get_scorer
from processors.scoring.toxicity import ToxicityScorer

# Written for these tests; none of them is in the training data or the hand-written lists.
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
# (abuse, counter-speech / negation / quotation of it). The counter version must score lower.
# Absolute non-flagging of counter-speech is NOT reached yet (HateCheck counter/negation accuracy
# is ~0.55-0.6, see docs/detectors.md), so this test checks the ordering only.
COUNTER_PAIRS = [
    ("Women are inferior to men.", "It's wrong to say that women are inferior to men."),
    ("Gay people are disgusting.", "Calling gay people disgusting is hateful and I won't tolerate it."),
    ("I will kill all Muslims.", 'Saying "I will kill all Muslims" is a horrible threat, report it.'),
    ("Black people are animals.", "Black people are not animals, and saying so is racist."),
]


@pytest.fixture(scope="module")
def scorer() -> ToxicityScorer:
    s = get_scorer("toxicity")
    assert isinstance(s, ToxicityScorer)
    return s


def test_protocol(scorer: ToxicityScorer) -> None:
    assert isinstance(scorer, Scorer)
    assert scorer.name == "toxicity" and scorer.version.startswith("toxicity-v")


def test_toxic_flagged(scorer: ToxicityScorer) -> None:
    for text, r in zip(TOXIC, scorer.score_batch([ScoreInput(text=t) for t in TOXIC]), strict=True):
        assert r.score is not None and r.flagged, (text, r)
        assert r.details["label"] == "toxic"


def test_clean_not_flagged(scorer: ToxicityScorer) -> None:
    for text, r in zip(CLEAN, scorer.score_batch([ScoreInput(text=t) for t in CLEAN]), strict=True):
        assert r.score is not None and not r.flagged, (text, r)
        # v1 asserted score < 0.3 at threshold 0.5; v2's calibrated scores sit higher for clean
        # text (threshold 0.551), so the margin is now relative to the threshold.
        assert r.details["label"] == "clean" and r.score < scorer.threshold - 0.1


def test_counter_speech_scores_below_the_abuse_it_quotes(scorer: ToxicityScorer) -> None:
    abuse = scorer.score_batch([ScoreInput(text=a) for a, _ in COUNTER_PAIRS])
    counter = scorer.score_batch([ScoreInput(text=c) for _, c in COUNTER_PAIRS])
    for (a, c), ra, rc in zip(COUNTER_PAIRS, abuse, counter, strict=True):
        assert ra.score is not None and rc.score is not None
        assert ra.flagged, a
        assert rc.score < ra.score, (c, rc.score, ra.score)
    assert sum(r.flagged for r in counter) <= 2


def test_scores_separate_toxic_from_clean(scorer: ToxicityScorer) -> None:
    tox = [r.score for r in scorer.score_batch([ScoreInput(text=t) for t in TOXIC])]
    cln = [r.score for r in scorer.score_batch([ScoreInput(text=t) for t in CLEAN])]
    assert all(s is not None and 0.0 <= s <= 1.0 for s in tox + cln)
    assert min(s for s in tox if s is not None) > max(s for s in cln if s is not None)


def test_batch_and_single_agree(scorer: ToxicityScorer) -> None:
    texts = TOXIC[:2] + CLEAN[:2]
    batch = scorer.score_batch([ScoreInput(text=t) for t in texts])
    for t, b in zip(texts, batch, strict=True):
        assert scorer.score_batch([ScoreInput(text=t)])[0].score == pytest.approx(b.score, abs=1e-5)


def test_precomputed_embedding_matches(scorer: ToxicityScorer) -> None:
    vec = get_embedder().embed([TOXIC[0]])[0]
    a = scorer.score_batch([ScoreInput(text=TOXIC[0], embedding=vec)])[0]
    b = scorer.score_batch([ScoreInput(text=TOXIC[0])])[0]
    assert a.score == pytest.approx(b.score, abs=1e-5)


def test_bad_items(scorer: ToxicityScorer) -> None:
    r = scorer.score_batch(
        [ScoreInput(text=""), ScoreInput(text=CLEAN[0], embedding=np.ones(3)), ScoreInput(text=TOXIC[0])]
    )
    assert r[0].score is None and "error" in r[0].details
    assert r[1].score is None and "dimension" in r[1].details["error"]
    assert r[2].flagged


def test_card_reports_cross_dataset_metrics() -> None:
    card = json.loads(artifact_path("toxicity").with_suffix(".json").read_text())
    chosen = card["metrics"]["variants"][card["metrics"]["chosen"]]
    assert chosen["davidson_to_hatecheck"]["auroc"] > 0.5
    assert "counter_quote_nh" in chosen["hatecheck_templates_heldout_by_functionality"]
    assert card["training_data"]["files"]


# Ordinary assistant traffic that toxicity-v1 flagged ("Write a Python function that parses ISO
# dates (task 257)" scored 0.671, "Convert this bash script to Python (task 231)" 0.567). None of
# these strings is in the training data: the demo's prompts are evaluated only, never trained on;
# training does contain OTHER template prompts of the same kind
# (processors/training/augment_benign.py), so this is a regression test, not an independent
# benchmark. The rest were written for this test.
ORDINARY_PROMPTS = [
    "Write a Python function that parses ISO dates (task 257)",
    "Convert this bash script to Python (task 231)",
    "Why does my Go program deadlock on this channel (task 12)",
    "Kill the zombie processes and restart the worker, ticket 88",
    "The build is failing again, can you check the logs for job 5521?",
    "Draft a short apology email for the delayed shipment of order 3307",
    "My landlord raised the rent by 20%, what are my rights in Ohio?",
    "Explain how to shoot a free throw in basketball.",
]


def test_ordinary_prompts_not_flagged(scorer: ToxicityScorer) -> None:
    results = scorer.score_batch([ScoreInput(text=t) for t in ORDINARY_PROMPTS])
    flagged = [(t, r.score) for t, r in zip(ORDINARY_PROMPTS, results, strict=True) if r.flagged]
    assert not flagged, flagged


def test_card_reports_false_positives_on_held_out_clean_sources() -> None:
    card = json.loads(artifact_path("toxicity").with_suffix(".json").read_text())
    chosen = card["metrics"]["variants"][card["metrics"]["chosen"]]
    fpr = chosen["heldout_benign_fpr"]
    assert {"templates", "demo", "q2_response", "presidio"} <= set(fpr)
    assert all(v["fpr"] <= 0.05 for v in fpr.values()), fpr
    assert card["threshold"] == chosen["threshold"]


def test_demo_abuse_is_flagged(scorer: ToxicityScorer) -> None:
    """The demo's scripted abuse (never trained on) must keep raising toxicity flags. Margins are
    thin with toxicity-v2 (the first prompt scores ~0.553 at threshold 0.551): see docs."""
    from lightkeeper.demo._scenario import TOXIC_ANSWER, TOXIC_PROMPTS

    texts = [*TOXIC_PROMPTS, TOXIC_ANSWER]
    results = scorer.score_batch([ScoreInput(text=t) for t in texts])
    assert all(r.flagged for r in results), [(t, r.score) for t, r in zip(texts, results, strict=True)]
