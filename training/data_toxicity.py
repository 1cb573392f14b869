"""Toxicity sources of the shared development data (1 = toxic), one loader per source.

Labels: davidson hate/offensive vs neither; hatecheck ``label_gold``; hatexplain hatespeech/offensive
vs normal; toxic_spans majority of annotators (an annotator calls a comment toxic when they marked
it "all toxic" or marked a span, and did not mark it "not toxic"); convabuse majority of annotators
with an abuse severity (-1..-3) on the user turn; toxigen_prompts hate vs neutral seeds.
"""

from __future__ import annotations

import csv
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path

from training.data import LabeledTexts, cap_per_class, clean_tweet, labeled_texts, read_csv

__all__ = ["TOXICITY_SOURCES", "load_toxicity_sources"]


def load_davidson(root: Path) -> LabeledTexts:
    path = root / "toxicity" / "davidson" / "labeled_data.csv"
    rows = read_csv(path)
    return labeled_texts(
        "davidson",
        [clean_tweet(r["tweet"]) for r in rows],
        [0 if r["class"] == "2" else 1 for r in rows],
        [path],
    )


def load_hatecheck(root: Path) -> LabeledTexts:
    path = root / "toxicity" / "hatecheck" / "test_suite_cases.csv"
    rows = read_csv(path)
    return labeled_texts(
        "hatecheck",
        [r["test_case"].strip() for r in rows],
        [1 if r["label_gold"] == "hateful" else 0 for r in rows],
        [path],
    )


def load_hatexplain(root: Path) -> LabeledTexts:
    files = [root / "toxicity" / "hatexplain" / f"{s}.csv" for s in ("train", "valid", "test")]
    texts: list[str] = []
    labels: list[int] = []
    for path in files:
        with path.open(newline="", encoding="utf-8") as f:
            for r in csv.DictReader(f, delimiter="\t"):
                texts.append(r["text"].replace("<user>", "@user").strip())
                labels.append(0 if r["label"] == "normal" else 1)
    return labeled_texts("hatexplain", texts, labels, files)


def load_toxic_spans(root: Path) -> LabeledTexts:
    base = root / "toxicity" / "toxic_spans"
    files = [base / "comments.csv", base / "annotations.csv", base / "spans.csv"]
    comments = {r["comment_id"]: r["comment_text"] for r in read_csv(files[0])}
    with_span = {r["annotation"] for r in read_csv(files[2])}
    votes: dict[str, list[int]] = defaultdict(list)
    for r in read_csv(files[1]):
        toxic = (r["all toxic"] == "True" or r["annotation"] in with_span) and r["not toxic"] != "True"
        votes[r["comment_id"]].append(int(toxic))
    texts, labels = [], []
    for cid, v in votes.items():
        if cid in comments and 2 * sum(v) != len(v):  # ties dropped
            texts.append(comments[cid].strip())
            labels.append(int(2 * sum(v) > len(v)))
    return labeled_texts("toxic_spans", texts, labels, files)


def load_convabuse(root: Path) -> LabeledTexts:
    files = [root / "toxicity" / "convabuse" / f"ConvAbuseEMNLP{s}.csv" for s in ("train", "valid", "test")]
    texts, labels = [], []
    for path in files:
        for r in read_csv(path):
            abusive = clean = 0
            for a in range(1, 9):
                if r.get(f"Annotator{a}_is_abuse.1") in (None, ""):
                    continue
                if any(r.get(f"Annotator{a}_is_abuse.{k}") == "1" for k in ("-1", "-2", "-3")):
                    abusive += 1
                elif r.get(f"Annotator{a}_is_abuse.1") == "1" or r.get(f"Annotator{a}_is_abuse.0") == "1":
                    clean += 1
            if abusive != clean and r["user"].strip():
                texts.append(r["user"].strip())
                labels.append(int(abusive > clean))
    return labeled_texts("convabuse", texts, labels, files)


def load_toxigen(root: Path) -> LabeledTexts:
    path = root / "toxicity" / "toxigen_prompts" / "toxigen_seed_sentences.csv"
    rows = read_csv(path)
    return labeled_texts(
        "toxigen", [r["text"].strip() for r in rows], [int(r["label"] == "hate") for r in rows], [path]
    )


TOXICITY_SOURCES: dict[str, Callable[[Path], LabeledTexts]] = {
    "davidson": load_davidson,
    "hatecheck": load_hatecheck,
    "hatexplain": load_hatexplain,
    "toxic_spans": load_toxic_spans,
    "convabuse": load_convabuse,
    "toxigen": load_toxigen,
}


def load_toxicity_sources(root: Path, cap: int | None) -> dict[str, LabeledTexts]:
    """Every toxicity source, each capped at ``cap`` texts per class."""
    return {name: cap_per_class(load(root), cap) for name, load in TOXICITY_SOURCES.items()}
