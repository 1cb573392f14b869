"""Quoted-speech and counter-speech helpers of the toxicity scorer (private; used by
:mod:`lightkeeper.processors.scoring.toxicity` and ``training/train_toxicity_v3.py``).

* :func:`quote_frame`: the text with its double-quoted spans replaced by "that". A text that
  quotes abuse in order to report or condemn it ('He wrote "..." and got banned') keeps its
  abusive words inside the quotes; its frame ("He wrote that and got banned") says what the
  author does with them. The scorer scores the frame too and keeps the LOWER of the two scores
  (see :func:`combine_quote_scores`), only for texts that have a frame and whose full-text score
  is at or above the artifact's ``quote_gate`` (so the extra embedding is paid only by the few
  texts near or above the threshold, and the ``flagged`` decision is exactly the ungated one
  when the gate is <= the threshold).
* :func:`cue_features`: a subset of the lexical cues of :mod:`._toxicity_lexicon` that mark
  counter-speech, negation, reported speech, positive statements and second-person address.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np

__all__ = ["COUNTER_CUES", "combine_quote_scores", "cue_features", "quote_frame"]

#: A double-quoted span of at least 3 characters on one line (straight or curly quotes).
QUOTE = re.compile(r"\"[^\"\n]{3,}\"|“[^”\n]{3,}”")
#: A frame needs at least this many words besides the placeholder, else the text is (nearly)
#: all quote and the quote is what it says.
MIN_FRAME_WORDS = 3

#: Lexicon cues used by toxicity-v3 (order = feature order).
COUNTER_CUES: tuple[str, ...] = ("second_person", "negation", "counter", "reported", "positive")


def quote_frame(text: str) -> str | None:
    """``text`` with each double-quoted span replaced by "that", or None when it has no quoted
    span or fewer than :data:`MIN_FRAME_WORDS` words outside the quotes."""
    if '"' not in text and "“" not in text:
        return None
    frame, n = QUOTE.subn(" that ", text)
    if not n:
        return None
    words = frame.split()
    if len(words) - n < MIN_FRAME_WORDS:
        return None
    return " ".join(words)


def combine_quote_scores(full: np.ndarray, frame: np.ndarray) -> np.ndarray:
    """The score of a quoting text: the lower of its full-text and frame scores."""
    return np.minimum(full, frame)


def cue_features(texts: Sequence[str], cues: Sequence[str] = COUNTER_CUES) -> np.ndarray:
    """(n, len(cues)) float32: the named lexicon cues, each min(count, 3) / 3."""
    from lightkeeper.processors.scoring._toxicity_lexicon import LEXICON

    pats = [LEXICON[c] for c in cues]
    out = np.zeros((len(texts), len(pats)), dtype=np.float32)
    for i, t in enumerate(texts):
        for j, pat in enumerate(pats):
            n = len(pat.findall(t))
            if n:
                out[i, j] = min(n, 3) / 3.0
    return out
