"""Text analysis for the groundedness features: sentence splitting, content tokens, numbers,
dates, entities, negation and antonyms (stdlib only, precompiled regexes).

:class:`TextFacts` holds everything the features need from one piece of text, computed once
(context documents are analysed once per distinct document and reused).
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass, field
from functools import lru_cache

# A sentence ends at . ! ? (also "…") followed by space(s) or directly by a capital letter (the
# HaluEval knowledge has "century.First"), or at a newline. Abbreviations are protected below.
_SENT_END = re.compile(r"(?<=[.!?…])[\"')\]]*\s+(?=\S)|(?<=[a-z0-9)][.!?])(?=[A-Z][a-z])|\n+")
_ABBREV = re.compile(
    r"\b(?:Mr|Mrs|Ms|Dr|Prof|Sr|Jr|St|Mt|vs|etc|e\.g|i\.e|Inc|Ltd|Co|Corp|No|Fig|U\.S|approx|Jan|Feb|Mar|Apr|"
    r"Jun|Jul|Aug|Sep|Sept|Oct|Nov|Dec)\.$|\b[A-Z]\.$"
)
_WORD = re.compile(r"[A-Za-z]+(?:['’][A-Za-z]+)?|\d+(?:[.,]\d+)*")
_NUMBER = re.compile(r"(?<![\w.])\d{1,3}(?:,\d{3})+(?:\.\d+)?|(?<![\w.])\d+(?:\.\d+)?")
_DECADE_S = re.compile(r"(?<!\d)((?:1[5-9]|20)\d)0s\b")
_YEAR = re.compile(r"(?<!\d)(1[5-9]\d\d|20\d\d)(?!\d)")
_CAP_WORD = re.compile(r"(?<![\w'’])[A-Z][a-zA-Z'’-]+|(?<![\w'’])[A-Z]{2,}\b")


def _words(text: str) -> list[str]:
    return text.split()


STOPWORDS: frozenset[str] = frozenset(
    _words(
        """a about above after again against all also am an and any are aren't as at be because been before
    being below between both but by can could couldn't did didn't do does doesn't doing don't down
    during each few for from further had hadn't has hasn't have haven't having he he'd he'll he's her
    here here's hers herself him himself his how how's i i'd i'll i'm i've if in into is isn't it
    it's its itself just let's me more most mustn't my myself no nor not of off on once only or
    other ought our ours ourselves out over own same shan't she she'd she'll she's should shouldn't
    so some such than that that's the their theirs them themselves then there there's these they
    they'd they'll they're they've this those through to too under until up very was wasn't we we'd
    we'll we're we've were weren't what what's when when's where where's which while who who's whom
    why why's with won't would wouldn't you you'd you'll you're you've your yours yourself
    yourselves yes yeah oh well really like know think sure ok okay one also much many lot lots
    get got go going gone thing things would will shall may might must s t re ve ll d m"""
    )
)
NEGATIONS: frozenset[str] = frozenset(
    _words(
        """not no never none nobody nothing neither nor without cannot can't don't doesn't didn't isn't
    aren't wasn't weren't won't wouldn't shouldn't couldn't hasn't haven't hadn't n't"""
    )
)
FIRST_PERSON: frozenset[str] = frozenset(_words("i i'm i've i'd i'll me my mine myself we we're our us"))
HEDGES: tuple[str, ...] = (
    "not sure",
    "i think",
    "i believe",
    "i don't know",
    "i do not know",
    "maybe",
    "i guess",
    "probably",
    "i'm not sure",
    "i am not sure",
)
MONTHS: frozenset[str] = frozenset(
    _words("january february march april may june july august september october november december")
)
NUMBER_WORDS: dict[str, str] = {
    "zero": "0",
    "one": "1",
    "two": "2",
    "three": "3",
    "four": "4",
    "five": "5",
    "six": "6",
    "seven": "7",
    "eight": "8",
    "nine": "9",
    "ten": "10",
    "eleven": "11",
    "twelve": "12",
    "thirteen": "13",
    "fifteen": "15",
    "twenty": "20",
    "thirty": "30",
    "forty": "40",
    "fifty": "50",
    "hundred": "100",
    "thousand": "1000",
    "million": "1000000",
    "billion": "1000000000",
    "first": "1",
    "second": "2",
    "third": "3",
    "fourth": "4",
    "fifth": "5",
    "once": "1",
    "twice": "2",
    "dozen": "12",
    "half": "0.5",
}
_ANTONYM_PAIRS = (
    "increase decrease|increased decreased|rise fall|rose fell|more less|most least|higher lower|"
    "high low|larger smaller|large small|big small|bigger smaller|largest smallest|before after|"
    "early late|earlier later|first last|win lose|won lost|victory defeat|success failure|"
    "succeeded failed|accept reject|accepted rejected|allow forbid|allowed banned|open closed|"
    "opened closed|start end|started ended|begin end|began ended|north south|east west|"
    "northern southern|eastern western|male female|man woman|men women|husband wife|son daughter|"
    "father mother|brother sister|king queen|boy girl|old young|older younger|oldest youngest|"
    "new old|ancient modern|best worst|better worse|good bad|positive negative|strong weak|"
    "rich poor|hot cold|warm cool|wet dry|light dark|fast slow|long short|longer shorter|"
    "heavy light|true false|right wrong|legal illegal|public private|same different|above below|"
    "inside outside|upper lower|maximum minimum|majority minority|gain loss|profit loss|"
    "buy sell|bought sold|import export|always never|everyone nobody|all none|only also|"
    "include exclude|included excluded|born died|birth death|alive dead|up down|love hate|"
    "agree disagree|support oppose|supported opposed|approve reject|approved rejected|"
    "entered left|arrive depart|arrived departed|appear disappear|capture release|attack defend"
)


def _antonyms() -> dict[str, frozenset[str]]:
    out: dict[str, set[str]] = {}
    for pair in _ANTONYM_PAIRS.split("|"):
        a, b = pair.split()
        out.setdefault(a, set()).add(b)
        out.setdefault(b, set()).add(a)
    return {k: frozenset(v) for k, v in out.items()}


ANTONYMS: dict[str, frozenset[str]] = _antonyms()


@lru_cache(maxsize=65536)
def stem(word: str) -> str:
    """A crude suffix-stripping stem ("presidents" -> "president", "aired" -> "air")."""
    w = word
    if len(w) > 4 and w.endswith("ies"):
        return w[:-3] + "y"
    for suf in ("ing", "ed", "es", "ly", "s"):
        if len(w) > len(suf) + 3 and w.endswith(suf) and not w.endswith("ss"):
            return w[: -len(suf)]
    return w


def split_sentences(text: str) -> list[str]:
    """Sentences of ``text`` (stripped, non-empty). Abbreviations ("Dr.", "U.S.", initials) do not
    end a sentence."""
    text = text.strip()
    if not text:
        return []
    parts: list[str] = []
    pos = 0
    for m in _SENT_END.finditer(text):
        piece = text[pos : m.start()]
        if _ABBREV.search(piece) and "\n" not in m.group(0):
            continue  # "Dr. Smith": keep going, the sentence did not end here
        if piece.strip():
            parts.append(piece.strip())
        pos = m.end()
    tail = text[pos:].strip()
    if tail:
        parts.append(tail)
    return parts


def normalize_number(tok: str) -> str:
    """ "10,000" -> "10000", "3.50" -> "3.5", "three" -> "3"."""
    if tok in NUMBER_WORDS:
        return NUMBER_WORDS[tok]
    t = tok.replace(",", "")
    if "." in t:
        t = t.rstrip("0").rstrip(".")
    return t.lstrip("0") or "0"


@dataclass(slots=True)
class TextFacts:
    """What the features need from one text: lower-cased ``words``; stemmed content tokens
    (``content``, in order, and ``content_set``); ``bigrams`` of stemmed words; normalized
    ``numbers``; ``years``; ``months``; ``entities`` (lower-cased stems of capitalized words that
    are not sentence-initial); flags ``negated``, ``first_person``, ``hedged``, ``question``."""

    text: str
    words: list[str] = field(default_factory=list)
    content: list[str] = field(default_factory=list)
    content_set: frozenset[str] = frozenset()
    bigrams: frozenset[tuple[str, str]] = frozenset()
    numbers: frozenset[str] = frozenset()
    years: frozenset[str] = frozenset()
    months: frozenset[str] = frozenset()
    entities: frozenset[str] = frozenset()
    negated: bool = False
    first_person: bool = False
    hedged: bool = False
    question: bool = False


_SPACED_THOUSANDS = re.compile(r"(?<=\d) ?, ?(?=\d{3}(?!\d))")
_SPACED_HYPHEN = re.compile(r"(?<=\w) - (?=\w)")
_DECADE = re.compile(r"(?<!\d)((?:1[5-9]|20)\d)0 ?' ?s\b")


def analyse(text: str) -> TextFacts:
    """Compute the :class:`TextFacts` of ``text``."""
    # Tokenized dialogue text ("45 , 700", "b - people", "1980 ' s") back to normal writing.
    text = _SPACED_HYPHEN.sub("-", _SPACED_THOUSANDS.sub(",", text))
    text = _DECADE.sub(lambda m: f"{m.group(1)}0s", text)
    low = text.lower().replace("’", "'")
    # Dialogue data is often tokenized ("i ' m", "don ' t"): join the contractions back.
    low = re.sub(r"\s+'\s*(m|s|re|ve|ll|d|t)\b", r"'\1", low).replace(" n't", "n't")
    words = [w for w in _WORD.findall(low)]
    stems = [stem(w) for w in words]
    content = [
        s for w, s in zip(words, stems, strict=True) if (w not in STOPWORDS and len(w) > 1) or w.isdigit()
    ]
    numbers = {normalize_number(n) for n in _NUMBER.findall(_DECADE_S.sub("", text))}
    numbers |= {f"{d}x" for d in _DECADE_S.findall(text)}
    numbers |= {NUMBER_WORDS[w] for w in words if w in NUMBER_WORDS and w not in ("one", "first", "second")}
    ents: set[str] = set()
    for sent in split_sentences(text) or [text]:
        for i, m in enumerate(_CAP_WORD.finditer(sent)):
            w = m.group(0).lower().replace("’", "'")
            if (i == 0 and m.start() < 2) or w in STOPWORDS or w in MONTHS:
                continue
            ents.add(stem(w))
    return TextFacts(
        text=text,
        words=words,
        content=content,
        content_set=frozenset(content),
        bigrams=frozenset(itertools.pairwise(stems)),
        numbers=frozenset(numbers),
        years=frozenset(_YEAR.findall(text)),
        months=frozenset(w for w in words if w in MONTHS),
        entities=frozenset(ents),
        negated=any(w in NEGATIONS or w.endswith("n't") for w in words),
        first_person=any(w in FIRST_PERSON for w in words),
        hedged=any(h in low for h in HEDGES),
        question=text.rstrip().endswith("?"),
    )


@lru_cache(maxsize=20000)
def analyse_cached(text: str) -> TextFacts:
    """:func:`analyse` with an LRU cache, for texts that repeat (context sentences). The returned
    object is shared: treat it as read-only."""
    return analyse(text)
