"""Lexical cue features for the toxicity model (private; used by :mod:`.toxicity`
and its trainer).

Sentence embeddings are topic-heavy: they see *that* a text is about a group or about violence
but not always *how*. These counts add source-independent signals: insults, profanity, threats,
dehumanizing terms, slurs, second-person targeting — and the counter-signals of counter-speech,
negation and reported/quoted speech, so the classifier can learn not to flag "It's wrong to say
X". Each feature is a capped count scaled to [0, 1]. Written for this project from general
knowledge; not derived from the evaluation sets.
"""

from __future__ import annotations

import re

import numpy as np

__all__ = ["LEXICON", "lexicon_features"]


def _words(*alts: str) -> re.Pattern[str]:
    return re.compile(r"\b(" + "|".join(alts) + r")\b", re.IGNORECASE)


#: feature name -> pattern (order is the feature order).
LEXICON: dict[str, re.Pattern[str]] = {
    "insult": _words(
        r"idiot\w*",
        r"moron\w*",
        r"stupid\w*",
        r"dumb\w*",
        r"loser\w*",
        r"pathetic",
        r"worthless",
        r"ugly",
        r"imbecile\w*",
        r"cretin\w*",
        r"scumbag\w*",
        r"freak\w*",
        r"creep\w*",
        r"clown\w*",
        r"fool\w*",
        r"jackass\w*",
        r"asshole\w*",
        r"bastard\w*",
        r"bitch\w*",
        r"whore\w*",
        r"slut\w*",
        r"hoes?",
        r"cunt\w*",
        r"dick\w*",
        r"prick\w*",
        r"twat\w*",
        r"brainless",
        r"useless",
        r"disgusting",
        r"piece of (shit|garbage|trash|crap)",
        r"waste of (space|oxygen|air)",
        r"shut (up|your)",
    ),
    "profanity": _words(
        r"fuck\w*",
        r"f\*+k\w*",
        r"shit\w*",
        r"sh\*t\w*",
        r"damn\w*",
        r"crap\w*",
        r"piss\w*",
        r"ass",
        r"bullshit",
        r"wtf",
        r"stfu",
        r"motherfuck\w*",
        r"goddamn\w*",
    ),
    "threat": re.compile(
        r"\b(kill|murder|shoot|stab|beat|hurt|rape|slit|strangle|hang|lynch|burn|bomb|punch|choke|"
        r"smash|destroy|exterminate|eliminate|gas|behead)\w*\b[^.!?\n]{0,25}\b(you|u|him|her|them|"
        r"yourself|every|all|those|these)\b"
        r"|\b(should|deserve[sd]? to|ought to|must|will|gonna|going to|hope (you|they|he|she))\b"
        r"[^.!?\n]{0,20}\b(die|be killed|be shot|be hanged|hang|burn|suffer|be exterminated|rot)\b"
        r"|\b(kys|kill yourself|die in a|put a bullet|lined up and shot|wipe(d)? (them )?out)\b",
        re.IGNORECASE,
    ),
    "dehumanize": _words(
        r"vermin",
        r"cockroach\w*",
        r"rats",
        r"parasit\w*",
        r"animals",
        r"subhuman\w*",
        r"savage\w*",
        r"filth\w*",
        r"plague",
        r"scum",
        r"apes",
        r"monkeys",
        r"pigs",
        r"trash",
        r"infest\w*",
        r"invader\w*",
        r"disease[sd]?",
        r"cancer",
        r"mentally ill",
        r"inferior",
        r"degenerate\w*",
    ),
    "slur": _words(
        r"nigg\w*",
        r"fag\w*",
        r"dyke\w*",
        r"trann\w*",
        r"retard\w*",
        r"kike\w*",
        r"spic\w*",
        r"chink\w*",
        r"wetback\w*",
        r"towelhead\w*",
        r"raghead\w*",
        r"gook\w*",
        r"coons?",
        r"beaner\w*",
        r"paki\w*",
        r"queers?",
        r"homos?",
        r"cripple\w*",
        r"mongoloid\w*",
        r"sandnigg\w*",
    ),
    "second_person": _words(r"you", r"you'?re", r"your", r"yourself", r"u", r"ur", r"ya"),
    "negation": _words(
        r"not",
        r"never",
        r"no one",
        r"nobody",
        r"don'?t",
        r"doesn'?t",
        r"isn'?t",
        r"aren'?t",
        r"won'?t",
        r"wouldn'?t",
        r"shouldn'?t",
        r"can'?t",
        r"nothing",
    ),
    "counter": re.compile(
        r"\b(wrong|unacceptable|hateful|racist|sexist|bigoted|bigotry|homophobic|transphobic|"
        r"offensive|no place|stand (up|together)|stop (saying|calling|spreading|posting)|"
        r"report(ed)?|apologi[sz]e|educate|stereotype|is not okay|isn'?t okay|never okay|"
        r"disgusting that|shame on)\b",
        re.IGNORECASE,
    ),
    "reported": re.compile(
        r"(\"[^\"]{3,}\"|'[^']{6,}'|“[^”]{3,}”)|\b(said|says|saying|called me|told me|wrote|quote[sd]?|"
        r"tweeted|posted|claims?|claimed)\b",
        re.IGNORECASE,
    ),
    "positive": _words(
        r"love",
        r"proud",
        r"respect\w*",
        r"admire",
        r"wonderful",
        r"amazing",
        r"great",
        r"capable",
        r"welcome",
        r"deserve (respect|rights|dignity)",
        r"equal\w*",
        r"support\w*",
        r"thank\w*",
    ),
}


def lexicon_features(texts: list[str]) -> np.ndarray:
    """(n, len(LEXICON)) float32 array: per cue, min(count, 3) / 3."""
    out = np.zeros((len(texts), len(LEXICON)), dtype=np.float32)
    for i, t in enumerate(texts):
        for j, pat in enumerate(LEXICON.values()):
            n = len(pat.findall(t))
            if n:
                out[i, j] = min(n, 3) / 3.0
    return out
