"""A SYNTHETIC document/summary consistency set, built from context documents we have.

For each document, a "summary" sentence is made from one of its sentences with meaning-keeping
rewrites (drop a parenthetical or a trailing clause, move a date phrase to the front, swap a few
words for synonyms), and an unfaithful twin is made from a summary by ONE subtle edit: negation
inserted or removed, a number or year changed, an entity swapped (for one of the same document,
"intrinsic", or of another document, "extrinsic"), a month changed, or a word replaced by its
antonym. This mimics FactCC-style consistency tests; it is not real summary data and its results
are reported as synthetic.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass

from lightkeeper.processors.scoring._grounding_text import ANTONYMS, MONTHS, split_sentences

_AUX = re.compile(r"\b(is|was|are|were|has|have|had|can|will|would|could|should|did|does|do)\b")
_NEG = re.compile(r"\s+not\b|n't\b|\bnever\b")
_NUM = re.compile(r"(?<![\w.])\d+(?:,\d{3})*(?:\.\d+)?(?![\w.]?\d)")
_ENT = re.compile(r"(?<=\s)[A-Z][a-z]+(?:\s+[A-Z][a-z]+){0,2}")
_PAREN = re.compile(r"\s*\([^()]{1,80}\)")
_DATE_PHRASE = re.compile(
    r"^(?P<main>.{10,}?)\s+(?P<date>(?:in|on|since|during)\s+(?:[A-Z][a-z]+\s+)?\d{4})(?P<rest>[.,;]?.*)$"
)
_SYNONYMS: dict[str, str] = {
    "film": "movie",
    "movie": "film",
    "began": "started",
    "started": "began",
    "created": "made",
    "famous": "well-known",
    "large": "big",
    "big": "large",
    "small": "little",
    "located": "situated",
    "company": "firm",
    "received": "got",
    "several": "a number of",
    "purchased": "bought",
    "bought": "purchased",
    "approximately": "about",
    "about": "around",
    "died": "passed away",
    "children": "kids",
    "city": "town",
    "also": "as well",
    "known": "recognized",
    "wrote": "authored",
    "showed": "demonstrated",
    "built": "constructed",
    "won": "earned",
    "home": "house",
    "television": "TV",
    "American": "US",
    "United States": "US",
    "however": "but",
    "often": "frequently",
}


_FRAMES = (
    "The text states that ",
    "According to the document, ",
    "It is reported that ",
    "The article notes that ",
    "In summary, ",
    "Notably, ",
    "The passage explains that ",
    "As described, ",
)


_FUNCTION_STARTS = frozenset(
    [
        "The",
        "A",
        "An",
        "It",
        "In",
        "He",
        "She",
        "They",
        "This",
        "That",
        "These",
        "His",
        "Her",
        "Its",
        "On",
        "At",
    ]
)


@dataclass(slots=True)
class SummaryPair:
    """One synthetic item: the ``document`` (context), a ``summary`` sentence and ``label`` (1 =
    unfaithful) with the ``edit`` that made it ("faithful" for faithful ones)."""

    document: str
    summary: str
    label: int
    edit: str


def _paraphrase(sent: str, rng: random.Random) -> str:
    s = sent
    if rng.random() < 0.6:
        s = _PAREN.sub("", s)
    if rng.random() < 0.4 and s.count(",") >= 1:
        head = s.split(",")[0]
        if len(head.split()) >= 6:
            s = head.rstrip() + "."
    m = _DATE_PHRASE.match(s)
    if m and rng.random() < 0.5:
        main = m.group("main")
        s = f"{m.group('date')[0].upper()}{m.group('date')[1:]}, {main[0].lower()}{main[1:]}{m.group('rest')}"
    words = s.split(" ")
    for i, w in enumerate(words):
        core = w.strip(".,;:")
        if core in _SYNONYMS and rng.random() < 0.5:
            words[i] = w.replace(core, _SYNONYMS[core])
    s = " ".join(words).strip()
    if rng.random() < 0.3 and len(s) > 1:
        # harmless framing words that are not in the document (real summaries have many)
        first = s.split(" ", 1)[0]
        lower_first = first in _FUNCTION_STARTS
        s = rng.choice(_FRAMES) + (s[0].lower() + s[1:] if lower_first else s)
    return s


def _negate(s: str, rng: random.Random) -> str | None:
    if _NEG.search(s):
        out = _NEG.sub(lambda m: "" if "not" in m.group(0) or "n't" in m.group(0) else " always", s, count=1)
        return re.sub(r"\s{2,}", " ", out)
    m = _AUX.search(s)
    if m:
        return s[: m.end()] + " not" + s[m.end() :]
    return None


def _change_number(s: str, rng: random.Random) -> str | None:
    nums = list(_NUM.finditer(s))
    if not nums:
        return None
    m = rng.choice(nums)
    raw = m.group(0).replace(",", "")
    try:
        val = float(raw)
    except ValueError:
        return None
    if raw.isdigit() and 1500 <= val <= 2100:
        new = str(int(val) + rng.choice([-12, -7, -4, -2, -1, 1, 2, 3, 5, 9]))
    elif raw.isdigit():
        iv = int(val)
        new = str(
            max(
                0,
                rng.choice(
                    [iv + rng.randint(1, 9), iv * rng.choice([2, 3, 10]), max(iv - rng.randint(1, 9), 0)]
                ),
            )
        )
        if new == raw:
            new = str(iv + 1)
    else:
        new = f"{val * rng.choice([0.5, 1.5, 2.0]):.1f}"
    return s[: m.start()] + new + s[m.end() :]


def _swap_entity(s: str, pool: list[str], rng: random.Random) -> str | None:
    ents = [m for m in _ENT.finditer(s)]
    if not ents:
        return None
    m = rng.choice(ents)
    options = [p for p in pool if p != m.group(0) and p not in s]
    if not options:
        return None
    return s[: m.start()] + rng.choice(options) + s[m.end() :]


def _change_month(s: str, rng: random.Random) -> str | None:
    for w in re.findall(r"[A-Z][a-z]+", s):
        if w.lower() in MONTHS:
            other = rng.choice(sorted(MONTHS - {w.lower()})).capitalize()
            return s.replace(w, other, 1)
    return None


def _antonym(s: str, rng: random.Random) -> str | None:
    words = s.split(" ")
    idx = [i for i, w in enumerate(words) if w.strip(".,;:").lower() in ANTONYMS]
    if not idx:
        return None
    i = rng.choice(idx)
    core = words[i].strip(".,;:")
    ant = rng.choice(sorted(ANTONYMS[core.lower()]))
    if core[0].isupper():
        ant = ant.capitalize()
    words[i] = words[i].replace(core, ant)
    return " ".join(words)


def _fuse(first: str, second: str) -> str:
    """Join two sentences into one: "A did x, and b did y." (a crude sentence fusion)."""
    a = first.rstrip(" .!?;")
    b = second.strip()
    if b and not b[:2].isupper():
        b = b[0].lower() + b[1:]
    return f"{a}, and {b}"


def make_summary_pairs(documents: list[str], seed: int = 0) -> list[SummaryPair]:
    """Per document: one faithful and (when an edit applies) one unfaithful summary sentence; for
    documents of 2+ sentences also, with probability 1/2, a faithful fusion of two of its sentences
    and an unfaithful one that fuses in a sentence of ANOTHER document (extrinsic addition)."""
    rng = random.Random(seed)
    all_ents = sorted({m.group(0) for d in documents for m in _ENT.finditer(d)})
    all_sents = [s for d in documents for s in split_sentences(d) if 6 <= len(s.split()) <= 30]
    out: list[SummaryPair] = []
    for doc in documents:
        sents = [s for s in split_sentences(doc) if len(s.split()) >= 6]
        if not sents:
            continue
        if len(sents) >= 2 and rng.random() < 0.5:
            a, b = rng.sample(sents, 2)
            out.append(SummaryPair(doc, _fuse(_paraphrase(a, rng), b), 0, "faithful_fusion"))
            other = rng.choice(all_sents)
            if other not in sents:
                out.append(
                    SummaryPair(
                        doc, _fuse(_paraphrase(rng.choice(sents), rng), other), 1, "extrinsic_addition"
                    )
                )
        src = rng.choice(sents)
        out.append(SummaryPair(doc, _paraphrase(src, rng), 0, "faithful"))
        base = _paraphrase(rng.choice(sents), rng)
        doc_ents = sorted({m.group(0) for m in _ENT.finditer(doc)})
        edits = ["negation", "number", "entity_intrinsic", "entity_extrinsic", "month", "antonym"]
        rng.shuffle(edits)
        for edit in edits:
            if edit == "negation":
                new = _negate(base, rng)
            elif edit == "number":
                new = _change_number(base, rng)
            elif edit == "entity_intrinsic":
                new = _swap_entity(base, doc_ents, rng)
            elif edit == "entity_extrinsic":
                new = _swap_entity(base, rng.sample(all_ents, min(50, len(all_ents))), rng)
            elif edit == "month":
                new = _change_month(base, rng)
            else:
                new = _antonym(base, rng)
            if new and new != base:
                out.append(SummaryPair(doc, new, 1, edit))
                break
    return out
