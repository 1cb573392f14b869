"""Explaining an embedding drift in words: terms far more frequent in the current window's texts
than in the reference's (two-proportion z-test on document frequencies). Pure Python."""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Sequence

_WORD = re.compile(r"[^\W\d_][\w'-]{2,}", re.UNICODE)
_STOP_WORDS = """
    the and for are but not you your with this that from have has had was were will would can could
    should what when where which who whom why how all any each few more most other some such than too
    very just into over under about after before between both during again further then once here
    there they them their its it's our ours out own same off only also been being does did doing
    yes his her him she he we us i'm don't can't won't let get got one two"""
_STOP = frozenset(_STOP_WORDS.split())


def _terms(text: str) -> set[str]:
    return {w for w in (m.group(0).lower() for m in _WORD.finditer(text)) if w not in _STOP}


def distinctive_terms(
    reference: Sequence[str], current: Sequence[str], k: int = 5, min_z: float = 3.0, min_docs: int = 3
) -> list[str]:
    """Up to ``k`` terms over-represented in ``current`` relative to ``reference``, strongest
    first; empty when either side has no text."""
    ref = [t for t in reference if t]
    cur = [t for t in current if t]
    if not ref or not cur or k <= 0:
        return []
    n_r, n_c = len(ref), len(cur)
    df_r: Counter[str] = Counter()
    df_c: Counter[str] = Counter()
    for text in ref:
        df_r.update(_terms(text))
    for text in cur:
        df_c.update(_terms(text))
    scored: list[tuple[float, str]] = []
    for term, c in df_c.items():
        if c < min_docs:
            continue
        p_c, p_r = c / n_c, df_r.get(term, 0) / n_r
        pooled = (c + df_r.get(term, 0)) / (n_c + n_r)
        se = math.sqrt(max(pooled * (1 - pooled), 1e-12) * (1 / n_c + 1 / n_r))
        z = (p_c - p_r) / se
        if z >= min_z:
            scored.append((z, term))
    scored.sort(key=lambda zt: (-zt[0], zt[1]))
    return [term for _, term in scored[:k]]
