"""PII detection and redaction: pure Python (stdlib only), shared by the lean sidecar agent
(redaction before events leave the host) and the PII scorer in the worker.

Rules are precompiled regular expressions with validators (Luhn for cards, mod 97 for IBANs,
``ipaddress`` for IPs, entropy for assigned secrets) and cue words for context-dependent types
(national ids, phones, people's names, addresses). Matching is linear in the text length.

Public surface::

    PII_TYPES                              # the types this module can find
    detect(text, types=None) -> list[PIISpan]      # sorted, non-overlapping
    redact(text, types=None) -> (str, list[PIISpan])  # spans replaced by "<TYPE>" placeholders
    placeholder(type) -> str
"""

from __future__ import annotations

import bisect
from collections.abc import Collection
from dataclasses import dataclass

from lightkeeper.text._pii_rules import LEFT_WINDOW, RULES, Rule

__all__ = [
    "HIGH_CONFIDENCE",
    "PII_TYPES",
    "PIISpan",
    "detect",
    "placeholder",
    "redact",
]

PII_TYPES: frozenset[str] = frozenset(
    {
        "EMAIL",
        "PHONE",
        "CREDIT_CARD",
        "IBAN",
        "API_KEY",
        "IP_ADDRESS",
        "NATIONAL_ID",
        "PERSON",
        "ADDRESS",
        "DATE_OF_BIRTH",
    }
)
"""Every type :func:`detect` can report."""

HIGH_CONFIDENCE = 0.8
"""Spans scoring at least this are checksum-validated, known-format or strongly cued."""

# When two candidates overlap, the one with the higher rank wins (then the longer one).
_TYPE_RANK: dict[str, int] = {
    "API_KEY": 9,
    "EMAIL": 8,
    "IBAN": 7,
    "CREDIT_CARD": 6,
    "NATIONAL_ID": 5,
    "IP_ADDRESS": 5,
    "DATE_OF_BIRTH": 4,
    "PHONE": 3,
    "ADDRESS": 2,
    "PERSON": 1,
}


@dataclass(frozen=True, slots=True)
class PIISpan:
    """One piece of PII found in a text: its ``type`` (one of :data:`PII_TYPES`), the character
    offsets ``[start, end)`` into the text, the matched ``text`` itself and a confidence
    ``score`` in (0, 1]."""

    type: str
    start: int
    end: int
    text: str
    score: float


def placeholder(pii_type: str) -> str:
    """The redaction placeholder of a type: ``<EMAIL>``, ``<PHONE>``, ..."""
    return f"<{pii_type}>"


def _selected_rules(types: Collection[str] | None) -> tuple[Rule, ...]:
    if types is None:
        return RULES
    wanted = {t.upper() for t in types}
    unknown = wanted - PII_TYPES
    if unknown:
        raise ValueError(f"unknown PII types {sorted(unknown)}; known: {sorted(PII_TYPES)}")
    return tuple(r for r in RULES if r.type in wanted)


def _candidates(text: str, rules: tuple[Rule, ...]) -> list[PIISpan]:
    has_digit = any(c.isdigit() for c in text)
    gates = {"": True, "digit": has_digit, "@": "@" in text, ":": ":" in text}
    lower = text.lower()
    found: list[PIISpan] = []
    for rule in rules:
        if not gates.get(rule.needs, True):
            continue
        if rule.keywords and not any(k in lower for k in rule.keywords):
            continue
        group = "value" if "value" in rule.pattern.groupindex else 0
        pos = 0
        while (m := rule.pattern.search(text, pos)) is not None:
            # On a rejected match, look again from the next character: a greedy match that swallowed
            # its own cue ("Dear Anna Kowalski") must not hide the real value ("Anna Kowalski").
            pos = m.start() + 1
            start, end = m.span(group)
            if rule.left_cue is not None:
                cue = rule.left_cue.search(text, max(0, start - LEFT_WINDOW), start)
                if cue is None:
                    continue
                if rule.extend_left:
                    start = cue.start()
            value = text[start:end]
            # Trim quotes / trailing punctuation the pattern may have taken along.
            lead = len(value) - len(value.lstrip("\"'` \t\n"))
            value = value.strip("\"'` \t\n")
            while value and value[-1] in ".,;:)":
                if rule.type in ("ADDRESS", "PERSON") and value[-1] == "." and _is_abbreviation(value[:-1]):
                    break  # keep an initial's or an abbreviation's dot ("D.", "St.")
                value = value[:-1]
            if not value:
                continue
            start += lead
            if rule.validator is not None:
                value = _shrink_until_valid(value, rule)
                if not value:
                    continue
            found.append(PIISpan(rule.type, start, start + len(value), value, rule.score))
            pos = max(pos, m.end())
    return found


def _is_abbreviation(prefix: str) -> bool:
    """Whether the last word of ``prefix`` is a short capitalized abbreviation ("St", "D", "Jr")."""
    word = prefix.rsplit(None, 1)[-1] if prefix.strip() else ""
    return word.isalpha() and len(word) <= 4 and word[0].isupper()


def _shrink_until_valid(value: str, rule: Rule) -> str:
    """``value`` if the rule's validator accepts it, else the longest prefix ending before a space
    that it accepts ("GB82 WEST 1234 5698 7654 32 and" -> "GB82 WEST 1234 5698 7654 32"); ""
    when none does. At most 8 tries."""
    if rule.validator is None:
        return value
    if rule.type != "IBAN":  # only IBANs (grouped letters+digits) swallow the following words
        return value if rule.validator(value) else ""
    for _ in range(8):
        if rule.validator(value):
            return value
        cut = value.rfind(" ")
        if cut <= 0:
            return ""
        value = value[:cut].rstrip()
    return ""


def _merge_same_type(cands: list[PIISpan], text: str) -> list[PIISpan]:
    """Join overlapping or touching (only spaces/commas between) ADDRESS candidates into one span,
    so "28245" + "Puruntie 82" + "Apt. 595" becomes one address."""
    addresses = sorted((c for c in cands if c.type == "ADDRESS"), key=lambda s: s.start)
    if len(addresses) < 2:
        return cands
    merged: list[PIISpan] = []
    for span in addresses:
        if merged:
            last = merged[-1]
            gap = text[last.end : span.start] if span.start > last.end else ""
            if span.start <= last.end or (len(gap) <= 3 and not gap.strip(" ,\t")):
                end = max(last.end, span.end)
                merged[-1] = PIISpan(
                    "ADDRESS", last.start, end, text[last.start : end], max(last.score, span.score)
                )
                continue
        merged.append(span)
    return [c for c in cands if c.type != "ADDRESS"] + merged


def _resolve(cands: list[PIISpan]) -> list[PIISpan]:
    """Greedy non-overlapping selection: confident, higher-ranked, longer spans first."""
    ordered = sorted(
        cands,
        key=lambda s: (s.score >= HIGH_CONFIDENCE, _TYPE_RANK.get(s.type, 0), s.score, s.end - s.start),
        reverse=True,
    )
    starts: list[int] = []  # kept sorted; taken spans never overlap, so ends are sorted too
    taken: list[PIISpan] = []
    for span in ordered:
        i = bisect.bisect_right(starts, span.start)
        if i > 0 and taken[i - 1].end > span.start:
            continue
        if i < len(taken) and taken[i].start < span.end:
            continue
        starts.insert(i, span.start)
        taken.insert(i, span)
    return taken


def detect(text: str, types: Collection[str] | None = None) -> list[PIISpan]:
    """Find PII in ``text``; only ``types`` (subset of :data:`PII_TYPES`) when given.

    Returns non-overlapping spans sorted by start offset. Raises ``ValueError`` for an unknown
    type name and ``TypeError`` when ``text`` is not a string.
    """
    if not isinstance(text, str):
        raise TypeError(f"detect() needs a str, got {type(text).__name__}")
    if not text:
        return []
    return _resolve(_merge_same_type(_candidates(text, _selected_rules(types)), text))


def redact(text: str, types: Collection[str] | None = None) -> tuple[str, list[PIISpan]]:
    """Replace every detected span by its typed placeholder (``<EMAIL>``, ``<CREDIT_CARD>``, ...).

    Returns the redacted text and the spans, whose offsets refer to the ORIGINAL text.
    """
    spans = detect(text, types)
    if not spans:
        return text, spans
    parts: list[str] = []
    pos = 0
    for s in spans:
        parts.append(text[pos : s.start])
        parts.append(placeholder(s.type))
        pos = s.end
    parts.append(text[pos:])
    return "".join(parts), spans
