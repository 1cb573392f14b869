"""Per-sentence groundedness features: how well one response sentence is supported by the
context documents (and not merely copied from the question).

:func:`build_context` analyses the context once (sentences, their embeddings and lexical facts);
:func:`sentence_features` turns one response sentence into the vector named by
:data:`FEATURE_NAMES`. The trained model maps those vectors to "unsupported" probabilities.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from lightkeeper.processors.scoring._grounding_text import (
    ANTONYMS,
    TextFacts,
    analyse,
    analyse_cached,
    split_sentences,
    stem,
)

FEATURE_NAMES: tuple[str, ...] = (
    "emb_max",  # max cosine between the sentence and any context sentence
    "emb_top2",  # mean of the two best cosines
    "emb_ctx",  # cosine with the mean context embedding
    "tok_prec",  # share of the sentence's content tokens (not from the question) found in the context
    "tok_novel_log",  # log1p(number of those tokens absent from the context)
    "bigram_prec",  # share of the sentence's word bigrams found in the context
    "best_tok_prec",  # content-token precision against the most similar context sentence
    "num_novel_frac",  # share of the sentence's numbers absent from the context
    "has_num",
    "ent_novel_frac",  # share of capitalized entities absent from the context
    "has_ent",
    "date_novel_frac",  # share of years / month names absent from the context
    "neg_mismatch",  # negation in exactly one of (sentence, most similar context sentence)
    "antonym_flag",  # a word whose antonym (and not itself) is in the most similar context sentence
    "first_person",
    "hedged",
    "question",
    "q_copy_frac",  # share of content tokens that come from the question
    "num_best_novel",  # share of numbers absent from the most similar context sentence
    "ent_best_novel",  # share of entities absent from the most similar context sentence
)
N_FEATURES = len(FEATURE_NAMES)

FEATURE_SIGNS: dict[str, int] = {
    # -1: more of it can only mean MORE supported; +1: only LESS supported; 0: no prior.
    "emb_max": -1,
    "emb_top2": -1,
    "emb_ctx": -1,
    "tok_prec": -1,
    "bigram_prec": -1,
    "best_tok_prec": -1,
    "tok_novel_log": 1,
    "num_novel_frac": 1,
    "ent_novel_frac": 1,
    "date_novel_frac": 1,
    "neg_mismatch": 1,
    "antonym_flag": 1,
    "num_best_novel": 1,
    "ent_best_novel": 1,
    "has_num": 0,
    "has_ent": 0,
    "first_person": 0,
    "hedged": 0,
    "question": 0,
    "q_copy_frac": 0,
}
"""The direction each feature may push P(unsupported) in the monotone model."""

Embed = Callable[[list[str]], np.ndarray]


@dataclass(slots=True)
class ContextIndex:
    """The analysed context: its ``sentences``, their ``facts`` and normalized embeddings
    ``emb`` (n, d), the ``mean`` direction, and the union of lexical facts over all sentences."""

    sentences: list[str]
    facts: list[TextFacts]
    emb: np.ndarray
    mean: np.ndarray
    content: frozenset[str]
    stems: frozenset[str]
    sent_stems: list[frozenset[str]]
    bigrams: frozenset[tuple[str, str]]
    numbers: frozenset[str]
    years: frozenset[str]
    months: frozenset[str]


def context_sentences(docs: list[str]) -> list[str]:
    """The sentences of the context documents, in order (documents that do not split stay whole)."""
    out: list[str] = []
    for d in docs:
        if isinstance(d, str) and d.strip():
            out.extend(split_sentences(d) or [d.strip()])
    return out


def build_context(sentences: list[str], emb: np.ndarray) -> ContextIndex:
    """Index already split context ``sentences`` with their embeddings ``emb`` (one row each)."""
    facts = [analyse_cached(s) for s in sentences]
    mean = emb.mean(axis=0) if len(emb) else np.zeros(emb.shape[1], dtype=np.float32)
    norm = float(np.linalg.norm(mean))
    mean = mean / norm if norm > 0 else mean
    sent_stems = [frozenset(stem(w) for w in f.words) for f in facts]
    stems: set[str] = set().union(*sent_stems)
    return ContextIndex(
        sentences=sentences,
        facts=facts,
        emb=emb,
        mean=mean,
        content=frozenset().union(*(f.content_set for f in facts)),
        stems=frozenset(stems),
        sent_stems=sent_stems,
        bigrams=frozenset().union(*(f.bigrams for f in facts)),
        numbers=frozenset().union(*(f.numbers for f in facts)),
        years=frozenset().union(*(f.years for f in facts)),
        months=frozenset().union(*(f.months for f in facts)),
    )


QUESTION_CONTEXT_COVERAGE = 0.5
"""A "question" containing more than this share of the context's content tokens is a whole prompt
with the documents pasted in; it is then ignored (else every supported word would be discounted as
"copied from the question")."""


def usable_question(question: TextFacts | None, ctx: ContextIndex) -> TextFacts | None:
    """``question`` unless it is really a prompt that contains the context (see
    :data:`QUESTION_CONTEXT_COVERAGE`)."""
    if question is None or not ctx.content:
        return question
    covered = len(question.content_set & ctx.content) / len(ctx.content)
    return None if covered > QUESTION_CONTEXT_COVERAGE else question


def _novel_frac(items: frozenset[str], known: frozenset[str] | set[str]) -> float:
    if not items:
        return 0.0
    return sum(1 for x in items if x not in known) / len(items)


def _numbers_novel_frac(items: frozenset[str], known: frozenset[str] | set[str]) -> float:
    """Like :func:`_novel_frac` for numbers; a decade "198x" is supported by any year 1980..1989."""
    if not items:
        return 0.0
    decades = {k[:3] + "x" for k in known if len(k) == 4 and k.isdigit()}
    return sum(1 for x in items if x not in known and x not in decades) / len(items)


def sentence_features(
    sent: TextFacts,
    sent_emb: np.ndarray,
    ctx: ContextIndex,
    question: TextFacts | None = None,
) -> np.ndarray:
    """Feature vector (float32, :data:`N_FEATURES`) of one response sentence against ``ctx``."""
    f = np.zeros(N_FEATURES, dtype=np.float32)
    sims = ctx.emb @ sent_emb if len(ctx.emb) else np.zeros(1, dtype=np.float32)
    order = np.argsort(-sims)
    best = int(order[0]) if len(ctx.facts) else -1
    f[0] = float(sims[order[0]])
    f[1] = float(sims[order[:2]].mean())
    f[2] = float(ctx.mean @ sent_emb) if len(ctx.emb) else 0.0

    q_set = question.content_set if question is not None else frozenset()
    toks = [t for t in sent.content if t not in q_set]
    novel = [t for t in toks if t not in ctx.content and t not in ctx.stems]
    f[3] = 1.0 - len(novel) / len(toks) if toks else 1.0
    f[4] = math.log1p(len(novel))
    f[5] = (sum(1 for b in sent.bigrams if b in ctx.bigrams) / len(sent.bigrams)) if sent.bigrams else 1.0
    if best >= 0 and sent.content:
        bset = ctx.facts[best].content_set
        f[6] = sum(1 for t in sent.content if t in bset) / len(sent.content)
    else:
        f[6] = 1.0 if not sent.content else 0.0

    known_numbers = set(ctx.numbers) | (question.numbers if question is not None else set())
    f[7] = _numbers_novel_frac(sent.numbers, known_numbers)
    f[8] = 1.0 if sent.numbers else 0.0
    known_q = question.content_set if question is not None else frozenset()
    known_ents = ctx.stems | known_q
    f[9] = _novel_frac(sent.entities, known_ents)
    f[10] = 1.0 if sent.entities else 0.0
    dates = sent.years | sent.months
    f[11] = _novel_frac(dates, ctx.years | ctx.months)

    if best >= 0:
        bf = ctx.facts[best]
        f[12] = 1.0 if sent.negated != bf.negated else 0.0
        bwords = set(bf.words)
        ctx_words = ctx.stems
        f[13] = (
            1.0
            if any(
                w not in bwords and stem(w) not in ctx_words and ANTONYMS[w] & bwords
                for w in sent.words
                if w in ANTONYMS
            )
            else 0.0
        )
    f[14] = 1.0 if sent.first_person else 0.0
    f[15] = 1.0 if sent.hedged else 0.0
    f[16] = 1.0 if sent.question else 0.0
    f[17] = (sum(1 for t in sent.content if t in q_set) / len(sent.content)) if sent.content else 0.0
    if best >= 0:
        bf = ctx.facts[best]
        f[18] = _numbers_novel_frac(
            sent.numbers, bf.numbers | (question.numbers if question is not None else set())
        )
        f[19] = _novel_frac(sent.entities, ctx.sent_stems[best] | known_q)
    return f


def response_features(
    response: str,
    context_docs: list[str],
    embed: Embed,
    question: str | None = None,
) -> tuple[list[str], np.ndarray]:
    """Sentences of ``response`` and their feature matrix (n_sentences, N_FEATURES) against
    ``context_docs``. ``embed`` maps texts to normalized embeddings (the shared Embedder's
    ``embed``: cached by content, so repeated context documents cost nothing)."""
    sents = split_sentences(response) or ([response.strip()] if response.strip() else [])
    ctx_sents = context_sentences(context_docs)
    if not sents or not ctx_sents:
        return sents, np.zeros((0, N_FEATURES), dtype=np.float32)
    vecs = embed(ctx_sents + sents)
    ctx = build_context(ctx_sents, vecs[: len(ctx_sents)])
    q = usable_question(analyse(question), ctx) if question else None
    rows = [sentence_features(analyse(s), vecs[len(ctx_sents) + i], ctx, q) for i, s in enumerate(sents)]
    return sents, np.vstack(rows)
