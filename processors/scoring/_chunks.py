"""Splitting a retrieved document or tool result into the pieces the injection detector scores.

A planted instruction is usually one sentence or line inside a long, benign document; the pooled
embedding of the whole document would drown it (and the encoder reads only its first 256 word
pieces). The document is cut into lines, lines into sentences, and short neighbours are joined so
each piece has at least :data:`MIN_CHUNK_CHARS` characters and at most :data:`MAX_CHUNK_CHARS`.
"""

from __future__ import annotations

import re

__all__ = ["MAX_CHUNKS", "MAX_CHUNK_CHARS", "MIN_CHUNK_CHARS", "context_chunks"]

MIN_CHUNK_CHARS = 40
MAX_CHUNK_CHARS = 400
MAX_CHUNKS = 64
"""Pieces scored per document (the first ones); a longer document is reported as truncated."""

_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=\S)")


def _pieces(text: str) -> list[str]:
    out: list[str] = []
    for line in text.splitlines():
        line = line.strip()
        if not line:
            continue
        for sent in _SENTENCE_END.split(line):
            sent = sent.strip()
            while len(sent) > MAX_CHUNK_CHARS:
                cut = sent.rfind(" ", 0, MAX_CHUNK_CHARS)
                cut = cut if cut > MAX_CHUNK_CHARS // 2 else MAX_CHUNK_CHARS
                out.append(sent[:cut].strip())
                sent = sent[cut:].strip()
            if sent:
                out.append(sent)
    return out


def context_chunks(text: str, max_chunks: int = MAX_CHUNKS) -> tuple[list[str], bool]:
    """The pieces of ``text`` (in order, at most ``max_chunks``) and whether pieces were left out."""
    chunks: list[str] = []
    current = ""
    for piece in _pieces(text):
        full = len(current) + 1 + len(piece) > MAX_CHUNK_CHARS or len(current) >= MIN_CHUNK_CHARS
        if current and full:
            chunks.append(current)
            current = piece
        else:
            current = f"{current} {piece}".strip()
    if current:
        chunks.append(current)
    return chunks[:max_chunks], len(chunks) > max_chunks
