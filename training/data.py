"""Loaders for the development data in ``../shared/data`` (see its README).

Each loader returns a :class:`LabeledTexts`: texts, binary labels (1 = toxic / attack), optional
sample weights and group ids (for grouped cross-validation), and a SHA-256 of the source file
recorded in the model card.
"""

from __future__ import annotations

import csv
import hashlib
import html
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from lightkeeper.errors import ConfigError

__all__ = [
    "MAX_PER_CLASS",
    "LabeledTexts",
    "cap_per_class",
    "clean_tweet",
    "data_root",
    "dedupe",
    "file_sha256",
    "labeled_texts",
    "read_csv",
    "source_name",
]

MAX_PER_CLASS = 1000
"""Texts kept per source and class (seeded subsample) so that embedding every source stays a few
minutes of CPU; the model cards record it."""


@dataclass
class LabeledTexts:
    """A labeled text set: ``texts[i]`` has label ``y[i]`` (0/1), optional ``weight[i]``,
    ``group[i]`` (template / functionality for grouped CV) and ``tag[i]`` (sub-category)."""

    name: str
    texts: list[str]
    y: np.ndarray
    weight: np.ndarray | None = None
    group: list[str] | None = None
    tag: list[str] | None = None
    sources: dict[str, str] = field(default_factory=dict)
    """file path -> sha256 of the files read."""

    def __len__(self) -> int:
        return len(self.texts)

    def subset(self, idx: np.ndarray) -> LabeledTexts:
        ids = [int(i) for i in idx]
        return LabeledTexts(
            name=self.name,
            texts=[self.texts[i] for i in ids],
            y=self.y[idx],
            weight=None if self.weight is None else self.weight[idx],
            group=None if self.group is None else [self.group[i] for i in ids],
            tag=None if self.tag is None else [self.tag[i] for i in ids],
            sources=dict(self.sources),
        )


def data_root(path: str | os.PathLike[str] | None = None) -> Path:
    """The shared data folder: ``path``, else ``$LIGHTKEEPER_TRAIN_DATA``, else
    ``$LIGHTKEEPER_DEV_DATA``, else ``shared/data`` beside the checkout."""
    candidates = []
    if path:
        candidates.append(Path(path))
    for name in ("LIGHTKEEPER_TRAIN_DATA", "LIGHTKEEPER_DEV_DATA"):
        if os.environ.get(name):
            candidates.append(Path(os.environ[name]))
    repo = Path(__file__).resolve().parents[1]
    candidates.append(repo.parent / "shared" / "data")
    for c in candidates:
        if c.is_dir():
            return c
    raise ConfigError(
        "training data not found; pass --data-dir or set LIGHTKEEPER_TRAIN_DATA "
        f"(looked in {', '.join(str(c) for c in candidates)})"
    )


def labeled_texts(name: str, texts: list[str], labels: list[int], files: list[Path]) -> LabeledTexts:
    """A deduplicated labeled source whose card entry lists the files read with their SHA-256."""
    ds = LabeledTexts(
        name,
        texts,
        np.asarray(labels, dtype=np.int64),
        sources={source_name(p): file_sha256(p) for p in files},
    )
    return dedupe(ds)


def source_name(path: Path) -> str:
    """How a model card names a data file: its path inside the data folder (no machine path)."""
    parts = Path(path).parts
    for i, part in enumerate(parts):
        if part in ("toxicity", "injection", "hallucination", "pii") and i + 1 < len(parts):
            return "/".join(parts[i:])
    return Path(path).name


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


_RT = re.compile(r"\bRT\s+@\w+:?", re.IGNORECASE)
_MENTION = re.compile(r"@\w+")
_URL = re.compile(r"https?://\S+")
_SPACE = re.compile(r"\s+")


def clean_tweet(text: str) -> str:
    """Normalize a tweet: HTML entities, retweet markers, mentions and URLs (which carry no
    toxicity and would otherwise make the model learn Twitter style)."""
    t = html.unescape(text)
    t = _RT.sub(" ", t)
    t = _MENTION.sub("@user", t)
    t = _URL.sub("", t)
    t = t.replace("!!!", "!")
    return _SPACE.sub(" ", t).strip(" :")


def read_csv(path: Path) -> list[dict[str, str]]:
    if not path.is_file():
        raise ConfigError(f"training file missing: {path}")
    with path.open(newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def cap_per_class(ds: LabeledTexts, cap: int | None = MAX_PER_CLASS, seed: int = 7) -> LabeledTexts:
    """``ds`` with at most ``cap`` texts of each label (seeded random subsample, order kept)."""
    if cap is None:
        return ds
    rng = np.random.default_rng(seed)
    keep: list[int] = []
    for label in np.unique(ds.y):
        idx = np.flatnonzero(ds.y == label)
        if len(idx) > cap:  # a prefix of one permutation: a smaller cap keeps a subset
            idx = np.sort(rng.permutation(idx)[:cap])
        keep.extend(int(i) for i in idx)
    return ds.subset(np.asarray(sorted(keep), dtype=np.int64))


def dedupe(ds: LabeledTexts) -> LabeledTexts:
    """``ds`` without repeated texts and without texts that carry both labels."""
    labels: dict[str, set[int]] = {}
    for t, label in zip(ds.texts, ds.y.tolist(), strict=True):
        labels.setdefault(t, set()).add(int(label))
    seen: set[str] = set()
    keep: list[int] = []
    for i, t in enumerate(ds.texts):
        if t.strip() and len(labels[t]) == 1 and t not in seen:
            seen.add(t)
            keep.append(i)
    return ds.subset(np.asarray(keep, dtype=np.int64))
