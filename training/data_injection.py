"""Prompt-injection sources of the shared development data (1 = injection / jailbreak).

Direct sources (whole prompts): jailbreak_classification, s_labs, neuralchemy_core (every split
of each) and yanismiraoui (all positive). BIPIA (indirect injection) is built from its clean
contexts (email, table, code): each sampled context appears once clean (0) and once with one
attack instruction of BIPIA's attack files inserted at a random line (1); both are kept whole in
``documents`` and are scored piece by piece (:func:`context_chunks`) like the runtime does.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from lightkeeper.processors.scoring._chunks import context_chunks
from training.data import (
    LabeledTexts,
    cap_per_class,
    dedupe,
    file_sha256,
    labeled_texts,
    read_csv,
    source_name,
)

__all__ = ["DIRECT_SOURCES", "LONG_TEXT_CAPS", "BipiaSet", "load_bipia", "load_direct_sources"]


def load_jailbreak(root: Path) -> LabeledTexts:
    base = root / "injection" / "jailbreak_classification"
    files = [base / f"jailbreak_dataset_{s}.csv" for s in ("train", "test")]
    rows = [r for p in files for r in read_csv(p)]
    return labeled_texts(
        "jailbreak_classification",
        [r["prompt"] for r in rows],
        [int(r["type"] == "jailbreak") for r in rows],
        files,
    )


def _text_label(root: Path, folder: str, name: str) -> LabeledTexts:
    base = root / "injection" / folder
    files = [base / f"{s}.csv" for s in ("train", "validation", "test")]
    rows = [r for p in files for r in read_csv(p)]
    return labeled_texts(name, [r["text"] for r in rows], [int(r["label"]) for r in rows], files)


def load_s_labs(root: Path) -> LabeledTexts:
    return _text_label(root, "s_labs", "s_labs")


def load_neuralchemy(root: Path) -> LabeledTexts:
    return _text_label(root, "neuralchemy_core", "neuralchemy")


def load_yanismiraoui(root: Path) -> LabeledTexts:
    path = root / "injection" / "yanismiraoui" / "prompt_injections.csv"
    rows = read_csv(path)
    return labeled_texts("yanismiraoui", [r["prompt_injections"] for r in rows], [1] * len(rows), [path])


DIRECT_SOURCES: dict[str, Callable[[Path], LabeledTexts]] = {
    "jailbreak_classification": load_jailbreak,
    "s_labs": load_s_labs,
    "neuralchemy": load_neuralchemy,
    "yanismiraoui": load_yanismiraoui,
}


LONG_TEXT_CAPS = {"jailbreak_classification": 300}
"""Lower cap (texts per class) for the source of long role-play prompts (each fills the
encoder's 256 word pieces, so it dominates the embedding time)."""


def load_direct_sources(
    root: Path, cap: int | None, caps: dict[str, int] | None = None
) -> dict[str, LabeledTexts]:
    """The direct-injection sources, each capped at ``caps[name]`` (default ``cap``) texts per class."""
    caps = LONG_TEXT_CAPS if caps is None else caps
    return {name: cap_per_class(load(root), caps.get(name, cap)) for name, load in DIRECT_SOURCES.items()}


@dataclass
class BipiaSet:
    """BIPIA documents (``documents[i]`` has label ``y[i]``), their pieces, and per piece the
    document it came from and whether it holds the planted attack."""

    documents: list[str]
    y: np.ndarray
    chunks: list[str]
    chunk_doc: np.ndarray
    chunk_y: np.ndarray
    sources: dict[str, str]

    def chunk_set(self) -> LabeledTexts:
        """The pieces as a labeled set (1 = the piece holding the attack), for training."""
        return dedupe(
            LabeledTexts("bipia", list(self.chunks), self.chunk_y.copy(), sources=dict(self.sources))
        )


def _context_text(row: dict[str, object]) -> str:
    ctx = row["context"]
    return "\n".join(str(c) for c in ctx) if isinstance(ctx, list) else str(ctx)


def load_bipia(root: Path, per_task: int = 50, seed: int = 7) -> BipiaSet:
    """Up to ``per_task`` contexts of each task (email, table, code; train and test files), each
    clean and attacked (text attacks into email/table, code attacks into code)."""
    base = root / "injection" / "bipia" / "benchmark"
    rng = random.Random(seed)
    files: list[Path] = []
    attacks: dict[str, list[str]] = {}
    for kind in ("text", "code"):
        found: list[str] = []
        for split in ("train", "test"):
            p = base / f"{kind}_attack_{split}.json"
            files.append(p)
            for items in json.loads(p.read_text(encoding="utf-8")).values():
                found.extend(str(a) for a in items)
        attacks[kind] = found
    docs: list[str] = []
    labels: list[int] = []
    attack_of_doc: list[str | None] = []
    for task in ("email", "table", "code"):
        contexts: list[str] = []
        for split in ("train", "test"):
            p = base / task / f"{split}.jsonl"
            files.append(p)
            contexts.extend(
                _context_text(json.loads(line))
                for line in p.read_text(encoding="utf-8").splitlines()
                if line.strip()
            )
        rng.shuffle(contexts)
        for ctx in contexts[:per_task]:
            attack = rng.choice(attacks["code" if task == "code" else "text"])
            lines = ctx.split("\n")
            at = rng.randint(0, len(lines))
            docs += [ctx, "\n".join([*lines[:at], attack, *lines[at:]])]
            labels += [0, 1]
            attack_of_doc += [None, attack]
    chunks: list[str] = []
    chunk_doc: list[int] = []
    chunk_y: list[int] = []
    for d, (doc, attack) in enumerate(zip(docs, attack_of_doc, strict=True)):
        pieces, _ = context_chunks(doc)
        key = attack.strip().split("\n")[0][:60] if attack else None
        for piece in pieces:
            chunks.append(piece)
            chunk_doc.append(d)
            chunk_y.append(int(key is not None and key in piece))
    return BipiaSet(
        documents=docs,
        y=np.asarray(labels, dtype=np.int64),
        chunks=chunks,
        chunk_doc=np.asarray(chunk_doc, dtype=np.int64),
        chunk_y=np.asarray(chunk_y, dtype=np.int64),
        sources={source_name(p): file_sha256(p) for p in files},
    )
