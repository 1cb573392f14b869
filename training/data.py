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
    "LabeledTexts",
    "clean_tweet",
    "data_root",
    "file_sha256",
    "load_davidson",
    "load_hatecheck",
    "load_jailbreak",
]


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
    """The shared data folder: ``path``, else ``$LIGHTKEEPER_TRAIN_DATA``, else the first of
    ``/work/shared/data`` and ``../shared/data`` (relative to the repository) that exists."""
    candidates = []
    if path:
        candidates.append(Path(path))
    if os.environ.get("LIGHTKEEPER_TRAIN_DATA"):
        candidates.append(Path(os.environ["LIGHTKEEPER_TRAIN_DATA"]))
    repo = Path(__file__).resolve().parents[2]
    candidates += [repo.parent / "shared" / "data", Path("/work/shared/data")]
    for c in candidates:
        if c.is_dir():
            return c
    raise ConfigError(
        "training data not found; pass --data-dir or set LIGHTKEEPER_TRAIN_DATA "
        f"(looked in {', '.join(str(c) for c in candidates)})"
    )


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


def _read_csv(path: Path) -> list[dict[str, str]]:
    if not path.is_file():
        raise ConfigError(f"training file missing: {path}")
    with path.open(newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def load_davidson(root: Path, max_offensive: int | None = 4000, seed: int = 7) -> LabeledTexts:
    """Davidson et al. tweets: toxic = hate or offensive (majority class 0/1), clean = neither.

    Weight = annotator agreement with the majority label (graded labels become soft weights).
    ``tag`` is hate / offensive / neither. All hate and neither tweets are kept; the 19k
    near-redundant "offensive" tweets are subsampled (seeded) to ``max_offensive`` to bound
    training time on CPU (None keeps all).
    """
    path = root / "toxicity" / "davidson" / "labeled_data.csv"
    rows = _read_csv(path)
    names = {"0": "hate", "1": "offensive", "2": "neither"}
    texts, y, w, tags = [], [], [], []
    for r in rows:
        text = clean_tweet(r["tweet"])
        if not text:
            continue
        count = max(1, int(r["count"]))
        toxic_votes = int(r["hate_speech"]) + int(r["offensive_language"])
        label = 0 if r["class"] == "2" else 1
        agree = toxic_votes / count if label else int(r["neither"]) / count
        texts.append(text)
        y.append(label)
        w.append(max(agree, 0.34))
        tags.append(names.get(r["class"], "?"))
    ds = LabeledTexts(
        "davidson",
        texts,
        np.asarray(y, dtype=np.int64),
        weight=np.asarray(w, dtype=np.float64),
        tag=tags,
        sources={str(path): file_sha256(path)},
    )
    offensive = np.flatnonzero(np.asarray(tags) == "offensive")
    if max_offensive is not None and len(offensive) > max_offensive:
        rng = np.random.default_rng(seed)
        drop = set(rng.choice(offensive, size=len(offensive) - max_offensive, replace=False).tolist())
        ds = ds.subset(np.asarray([i for i in range(len(tags)) if i not in drop]))
    return ds


def load_hatecheck(root: Path) -> LabeledTexts:
    """HateCheck functional tests: ``tag`` = functionality, ``group`` = template id (cases from
    one template differ only in the target identity, so CV must keep a template together)."""
    path = root / "toxicity" / "hatecheck" / "test_suite_cases.csv"
    rows = _read_csv(path)
    texts = [r["test_case"].strip() for r in rows]
    y = np.asarray([1 if r["label_gold"] == "hateful" else 0 for r in rows], dtype=np.int64)
    return LabeledTexts(
        "hatecheck",
        texts,
        y,
        group=[r["functionality"] + ":" + (r["templ_id"] or r["case_id"]) for r in rows],
        tag=[r["functionality"] for r in rows],
        sources={str(path): file_sha256(path)},
    )


def load_jailbreak(root: Path, split: str) -> LabeledTexts:
    """jackhhao jailbreak classification set, ``split`` train or test: 1 = jailbreak."""
    if split not in {"train", "test"}:
        raise ConfigError(f"split must be train or test, got {split!r}")
    path = root / "injection" / "jailbreak_classification" / f"jailbreak_dataset_{split}.csv"
    rows = _read_csv(path)
    texts = [r["prompt"] for r in rows]
    y = np.asarray([1 if r["type"] == "jailbreak" else 0 for r in rows], dtype=np.int64)
    return LabeledTexts(
        f"jailbreak_{split}",
        texts,
        y,
        tag=[r["type"] for r in rows],
        sources={str(path): file_sha256(path)},
    )
