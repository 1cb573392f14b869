"""Clean / benign text from the other development sets, split at the SOURCE-GROUP level.

The toxicity and injection detectors were trained on narrow sources (tweets; one jailbreak
set) and flagged ordinary LLM traffic. These loaders add diverse clean text:

  ``halueval_question`` / ``halueval_answer`` / ``halueval_knowledge`` — HaluEval QA rows;
  ``q2_message`` / ``q2_response`` / ``q2_knowledge`` — Q² knowledge-grounded dialogues;
  ``presidio`` — synthetic PII sentences (clean language, with names and addresses);
  ``templates`` — :mod:`training.augment_benign` (train / held-out template families).

Each source is split by a stable hash of its GROUP (HaluEval row, Q² topic, presidio record):
a group goes wholly to training or wholly to the held-out third, so a held-out text never has
a sibling (its own question, answer or passage) in training. Missing source files are skipped
(training still works on a reduced data folder). ``demo_prompts`` are the demo scenario's
ordinary prompts, evaluated only.
"""

from __future__ import annotations

import csv
import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from training import augment_benign
from training.data import file_sha256

__all__ = ["BenignSplit", "demo_prompts", "load_benign"]

HELDOUT_MOD = 3  # one group in three is held out


@dataclass
class BenignSplit:
    """Per-source clean texts: ``train[src]`` may be fitted on, ``heldout[src]`` only evaluated."""

    train: dict[str, list[str]] = field(default_factory=dict)
    heldout: dict[str, list[str]] = field(default_factory=dict)
    sources: dict[str, str] = field(default_factory=dict)
    """file path -> sha256."""

    def train_texts(self, exclude: Iterable[str] = ()) -> tuple[list[str], list[str]]:
        """All training texts and their source names, minus the ``exclude`` sources."""
        skip = set(exclude)
        texts, names = [], []
        for src, items in self.train.items():
            if src not in skip:
                texts += items
                names += [src] * len(items)
        return texts, names


def _heldout(group: str) -> bool:
    return int(hashlib.sha1(group.encode(), usedforsecurity=False).hexdigest()[:8], 16) % HELDOUT_MOD == 0


def _add(split: BenignSplit, src: str, items: list[tuple[str, str]], max_chars: int = 2000) -> None:
    """Add (group, text) pairs of ``src``, deduplicated, whitespace-normalized."""
    seen: set[str] = set()
    for group, text in items:
        t = " ".join(text.split())[:max_chars]
        if len(t) < 3 or t in seen:
            continue
        seen.add(t)
        target = split.heldout if _heldout(f"{src.split('_')[0]}:{group}") else split.train
        target.setdefault(src, []).append(t)


def _halueval(root: Path, split: BenignSplit) -> None:
    folder = root / "hallucination" / "halueval_qa"
    q, a, k = [], [], []
    for path in sorted(folder.glob("qa_*.json")):
        split.sources[str(path)] = file_sha256(path)
        for i, line in enumerate(path.read_text(encoding="utf-8").splitlines()):
            if not line.strip():
                continue
            row = json.loads(line)
            g = f"{path.name}:{i}"
            q.append((g, str(row.get("question", ""))))
            a.append((g, str(row.get("right_answer", ""))))
            k.append((g, str(row.get("knowledge", ""))))
    _add(split, "halueval_question", q)
    _add(split, "halueval_answer", a)
    _add(split, "halueval_knowledge", k)


def _q2(root: Path, split: BenignSplit) -> None:
    folder = root / "hallucination" / "q2_dialogue"
    msgs, resp, know = [], [], []
    for path in sorted(folder.glob("*_consistent.csv")):
        split.sources[str(path)] = file_sha256(path)
        with path.open(newline="", encoding="utf-8") as f:
            for r in csv.DictReader(f):
                g = r.get("topic") or r.get("episode_idx") or ""
                msgs.append((g, r.get("message", "")))
                resp.append((g, r.get("response", "")))
                know.append((g, r.get("knowledge", "")))
    _add(split, "q2_message", msgs)
    _add(split, "q2_response", resp)
    _add(split, "q2_knowledge", know)


def _presidio(root: Path, split: BenignSplit) -> None:
    folder = root / "pii" / "presidio_dev"
    for path in sorted(folder.glob("*.json")):
        split.sources[str(path)] = file_sha256(path)
        rows = json.loads(path.read_text(encoding="utf-8"))
        _add(split, "presidio", [(str(i), str(r.get("full_text", ""))) for i, r in enumerate(rows)])


def load_benign(root: Path) -> BenignSplit:
    """Load every available clean source of the shared data folder ``root`` plus the
    template prompts, split train / held-out by source group."""
    split = BenignSplit()
    _halueval(root, split)
    _q2(root, split)
    _presidio(root, split)
    split.train["templates"] = augment_benign.train_prompts()
    split.heldout["templates"] = augment_benign.heldout_prompts()
    return split


def demo_prompts() -> list[str]:
    """The demo scenario's ordinary prompts (support, code, marketing, RAG questions, drift
    topics), rendered with ids the way the demo does. Never trained on."""
    try:
        from lightkeeper.demo import _scenario as sc
    except ImportError:  # pragma: no cover - the demo ships with the package
        return []
    out = [f"{task} (task {i})" for i, task in enumerate(sc.CODE_TASKS * 3, start=200)]
    out += [f"How do I {what}? (ticket {i})" for i, (what, _) in enumerate(sc.SUPPORT_TOPICS, start=30)]
    out += [f"{m} (brief {i})" for i, m in enumerate(sc.MARKETING * 2, start=50)]
    out += [f"{d.capitalize()}? (ticket {i})" for i, d in enumerate(sc.DRIFT_TOPICS, start=70)]
    out += [
        f"Question {i} about {doc.replace('-', ' ')}: what does the policy say?"
        for i, (doc, _) in enumerate(sc.KNOWLEDGE * 4, start=1)
    ]
    return out
