"""Toxicity scorer: known toxic vs clean texts, counter-speech/negation/quotes, batch vs single,
precomputed embeddings, bad items, artifact card."""

from __future__ import annotations

import json

import numpy as np
import pytest

from lightkeeper.processors.embedding import get_embedder
from lightkeeper.processors.scoring.base import ScoreInput, Scorer
from lightkeeper.processors.scoring.registry import artifact_path, get_scorer
from lightkeeper.processors.scoring.toxicity import ToxicityScorer

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
# (abuse, counter-speech / negation / quotation of it). The counter version must score lower and,
# since toxicity-v3 (counter-speech cues, quote framing), not be flagged. Plain negation ("X are
# not Y") is handled since toxicity-v4 (see NEGATED below).
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
    assert not any(r.flagged for r in counter), [
        (c, r.score) for (_, c), r in zip(COUNTER_PAIRS, counter, strict=True)
    ]


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
    """The demo's scripted abuse (never trained on) must keep raising toxicity flags, with a
    margin: toxicity-v2 scored the first prompt 0.553 at threshold 0.551."""
    from lightkeeper.demo._scenario import TOXIC_ANSWER, TOXIC_PROMPTS

    texts = [*TOXIC_PROMPTS, TOXIC_ANSWER]
    results = scorer.score_batch([ScoreInput(text=t) for t in texts])
    assert all(r.flagged for r in results), [(t, r.score) for t, r in zip(texts, results, strict=True)]
    assert min(r.score or 0.0 for r in results) >= scorer.threshold + 0.1, [r.score for r in results]


# Written for these tests (not in any training list): reporting, quoting or condemning abuse,
# and clearly hateful statements about the same targets.
REPORTED_OR_COUNTER = [
    'A stranger messaged me "you people are filth and should all die" and I blocked him.',
    'The headline quoted the gunman: "they are invaders and must be stopped". Police say he acted alone.',
    'She posted "lesbians are sick in the head" and lost half her followers overnight.',
    "Telling immigrants to go back where they came from is xenophobic and hurtful.",
    "Claiming that Sikhs are terrorists is ignorant; please read a history book.",
    "Whoever keeps writing that disabled kids are a burden should be banned from this forum.",
]
HATEFUL = [
    "You people are filth and should all die.",
    "Lesbians are sick in the head.",
    "Immigrants should go back where they came from, they ruin everything.",
    "Sikhs are terrorists and should be thrown out.",
    "Disabled kids are a burden and a waste of money.",
]


def test_reported_quoted_and_counter_speech_below_hate(scorer: ToxicityScorer) -> None:
    counter = scorer.score_batch([ScoreInput(text=t) for t in REPORTED_OR_COUNTER])
    hate = scorer.score_batch([ScoreInput(text=t) for t in HATEFUL])
    assert all(r.flagged for r in hate), [(t, r.score) for t, r in zip(HATEFUL, hate, strict=True)]
    assert not any(r.flagged for r in counter), [
        (t, r.score) for t, r in zip(REPORTED_OR_COUNTER, counter, strict=True)
    ]
    assert max(r.score or 0.0 for r in counter) < min(r.score or 1.0 for r in hate)


def test_quote_framing_details_and_limits(scorer: ToxicityScorer) -> None:
    """A reported quote above the gate is re-scored without its quotes (details say so); a text
    that is only a quote has no frame and keeps its full-text score."""
    assert scorer.quote_gate is not None  # toxicity-v3 and later
    reported, bare = scorer.score_batch(
        [
            ScoreInput(text=REPORTED_OR_COUNTER[0]),
            ScoreInput(text='"You people are filth and should all die"'),
        ]
    )
    assert reported.details["full_text_score"] >= scorer.quote_gate
    assert reported.score == pytest.approx(
        min(reported.details["full_text_score"], reported.details["quote_frame_score"]), abs=1e-5
    )
    assert not reported.flagged
    assert bare.flagged and "quote_frame_score" not in bare.details


class _CountingEmbedder:
    """Wraps the shared embedder and records how many texts it was asked to embed."""

    def __init__(self) -> None:
        self.inner = get_embedder()
        self.texts: list[str] = []

    def embed(self, texts: list[str]) -> np.ndarray:
        self.texts += texts
        return self.inner.embed(texts)


def test_quote_framing_only_embeds_quoting_texts_at_or_above_the_gate() -> None:
    """The extra embedding is paid only by texts with a quoted span scoring >= the gate: ordinary
    prompts with quotes (code, titles) cost nothing extra."""
    emb = _CountingEmbedder()
    s = ToxicityScorer(embedder=emb)
    texts = [
        'Why does print("hello world") fail in my script?',
        'Summarize the article "Ten tips for remote teams" in two sentences.',
        'Rename the column "customer id" to "customer_id" in this query.',
        REPORTED_OR_COUNTER[0],
    ]
    vecs = emb.inner.embed(texts)
    results = s.score_batch([ScoreInput(text=t, embedding=v) for t, v in zip(texts, vecs, strict=True)])
    assert not any(r.flagged for r in results)
    assert len(emb.texts) == 1 and "blocked him" in emb.texts[0]


class _FailingEmbedder:
    def embed(self, texts: list[str]) -> np.ndarray:
        raise RuntimeError("embedding backend down")


def test_quote_framing_failure_keeps_full_text_score(scorer: ToxicityScorer) -> None:
    """If the extra embedding fails, the item keeps its full-text score (no error, no loss)."""
    text = REPORTED_OR_COUNTER[0]
    vec = get_embedder().embed([text])[0]
    s = ToxicityScorer(embedder=_FailingEmbedder())
    r = s.score_batch([ScoreInput(text=text, embedding=vec)])[0]
    ok = scorer.score_batch([ScoreInput(text=text, embedding=vec)])[0]
    assert r.score == pytest.approx(ok.details["full_text_score"], abs=1e-5)
    assert "quote_frame_score" not in r.details and "error" not in r.details


@pytest.mark.parametrize(
    ("text", "frame"),
    [
        ('He said "go away, loser" to me today', "He said that to me today"),
        ("She wrote \u201cyou are vermin\u201d and got banned.", "She wrote that and got banned."),
        ('"only a quote here"', None),  # nothing outside the quote: the quote is the statement
        ('unmatched " quote and more words here', None),
        ("no quotes at all in this text", None),
    ],
)
def test_quote_frame(text: str, frame: str | None) -> None:
    from lightkeeper.processors.scoring._toxicity_quotes import quote_frame

    assert quote_frame(text) == frame


# Negated-negative statements (toxicity-v4): written for these tests, in phrasings that are not
# HateCheck templates; each is paired with the abusive statement it negates.
NEGATED = [
    ("Mexicans are lazy.", "Mexicans are not lazy."),
    ("I despise disabled people.", "I do not despise disabled people."),
    ("Refugees deserve to be beaten.", "No refugee deserves to be beaten."),
    ("We should harass trans people until they leave.", "Nobody should harass trans people."),
]
# Negating a positive term is abuse and stays flagged; so does abuse next to a negated clause,
# and a rhetorical negative question.
NEGATED_BUT_ABUSIVE = [
    "Immigrants are not human beings.",
    "Gay lives do not matter at all.",
    "I don't hate them, they're just filthy vermin.",
    "Isn't it obvious that Muslims are scum?",
]


def test_negated_negative_statements_are_not_flagged(scorer: ToxicityScorer) -> None:
    assert scorer.negation_gate is not None  # toxicity-v4 and later
    items = [ScoreInput(text=t) for pair in NEGATED for t in pair]
    results = scorer.score_batch(items)
    for k, (abuse, negated) in enumerate(NEGATED):
        a, n = results[2 * k], results[2 * k + 1]
        assert a.flagged, (abuse, a.score)
        assert not n.flagged and (n.score or 0) < (a.score or 0), (negated, n.score, n.details)
        assert n.score == pytest.approx(
            min(n.details["full_text_score"], 1 - n.details["affirmed_score"]), abs=1e-5
        )


def test_negation_of_positive_terms_and_abuse_beside_a_negation_stay_flagged(scorer: ToxicityScorer) -> None:
    results = scorer.score_batch([ScoreInput(text=t) for t in NEGATED_BUT_ABUSIVE])
    for text, r in zip(NEGATED_BUT_ABUSIVE, results, strict=True):
        assert r.flagged and "affirmed_score" not in r.details, (text, r.score, r.details)


def test_denegate_rule() -> None:
    from lightkeeper.processors.scoring._toxicity_negation import denegate

    assert denegate("Jews are not greedy.") == "Jews are greedy."
    assert denegate("I don't hate women.") == "I do hate women."
    assert denegate("Nobody should be harassed at work.") == "Everybody should be harassed at work."
    assert denegate("Women are not equal to men.") is None  # negated positive term
    assert denegate("Don't forget they are worthless scum.") is None  # affirming idiom: abuse stays
    assert denegate("No one is as filthy as these people.") is None  # negated comparison
    assert denegate("Don't they know they're stupid?") is None  # rhetorical question
    assert denegate("The build did not fail.") is None  # nothing negative is negated
    assert denegate("They aren't lazy, just greedy.") is None  # a negative term outside the negation
    assert denegate("I am not hungry. " * 20) is None  # too long to be one statement


def test_negation_rescoring_only_embeds_candidates() -> None:
    emb = _CountingEmbedder()
    s = ToxicityScorer(embedder=emb)
    texts = [
        "Don't forget to restart the server after the update.",
        "The migration did not break anything.",
        NEGATED[0][1],
    ]
    vecs = emb.inner.embed(texts)
    results = s.score_batch([ScoreInput(text=t, embedding=v) for t, v in zip(texts, vecs, strict=True)])
    assert not any(r.flagged for r in results)
    assert emb.texts == ["Mexicans are lazy."]


def test_v3_artifact_still_scores_with_this_code() -> None:
    path = artifact_path("toxicity").with_name("toxicity-v3.joblib")
    assert path.is_file(), "toxicity-v3 is kept next to v4 (comparison, rollback)"
    s = ToxicityScorer(artifact_path=str(path))
    assert s.negation_gate is None and s.quote_gate is not None and s.version == "toxicity-v3"
    (r,) = s.score_batch([ScoreInput(text=NEGATED[0][1])])
    assert r.flagged and "affirmed_score" not in r.details  # v3 does not handle negation
