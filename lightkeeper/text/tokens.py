"""Local token estimate for calls whose provider reported no usage.

No tokenizer files can be downloaded where the agent runs, so this is a heuristic calibrated
on BPE tokenizers (cl100k/o200k-like): a word of up to 6 letters is one token, longer words
one more token per ~5 further characters, every digit group of up to 3 digits one token, every punctuation
or symbol character one token, and non-ASCII letters one token each. Events carrying these
counts have ``usage.estimated = True``. Typical error on English prose: about ±15 %.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

_TOKEN_RE = re.compile(r"[A-Za-z]+|\d+|[^\sA-Za-z\d]")

#: Tokens a chat message costs beyond its content (role and separators), as OpenAI documents.
MESSAGE_OVERHEAD = 4
#: Tokens every chat reply is primed with.
REPLY_PRIMING = 3


def estimate_tokens(text: str | None) -> int:
    """Estimated token count of ``text`` (0 for empty)."""
    if not text:
        return 0
    count = 0
    for match in _TOKEN_RE.finditer(text):
        piece = match.group()
        first = piece[0]
        if first.isascii() and first.isalpha():
            count += 1 if len(piece) <= 6 else 1 + (len(piece) - 2) // 5
        elif first.isdigit():
            count += (len(piece) + 2) // 3
        else:
            count += 1
    return count


def estimate_messages(contents: Sequence[str | None]) -> int:
    """Estimated input tokens of a chat request with these message contents."""
    if not contents:
        return 0
    return sum(estimate_tokens(c) + MESSAGE_OVERHEAD for c in contents) + REPLY_PRIMING


def estimate_usage(
    contents: Iterable[str | None],
    output_text: str | None,
    tool_calls: Iterable[tuple[str | None, str | None]] = (),
) -> tuple[int | None, int | None]:
    """Estimated ``(input_tokens, output_tokens)`` of a chat call from its captured text: the
    input from the message ``contents`` (:func:`estimate_messages`), the output from the
    answer text plus each tool call's name and arguments. Either is None when there is no
    text to estimate it from (the body was not captured): nothing is invented."""
    messages = list(contents)
    input_tokens = estimate_messages(messages) if any(messages) else None
    calls = "".join((name or "") + (arguments or "") for name, arguments in tool_calls)
    output_tokens = estimate_tokens(output_text) + estimate_tokens(calls) if output_text or calls else None
    return input_tokens, output_tokens
