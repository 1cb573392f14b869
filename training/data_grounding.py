"""Groundedness sources of the shared development data: (context documents, question, response,
label) with label 1 = the response is NOT supported by the context.

- halueval_qa: ``right_answer`` 0, ``hallucinated_answer`` 1 against ``knowledge``;
- q2_dialogue: ``*_consistent.csv`` 0, ``*_inconsistent.csv`` 1 against ``knowledge``;
- fib_summ: the human-checked FIB pairs (xsum and cnn_dm): the faithful summary 0, the other 1;
- faithdial_wow: BEGIN label with "hallucination" (also partial) 1, "entailment" only 0
  (generic / uncooperative only: dropped);
- dialfact_small: SUPPORTS 0, REFUTES and NOT ENOUGH INFO 1 against the listed evidence;
- wice: oracle evidence chunks; supported 0, partially / not supported 1;
- factcheck_gpt: claim-evidence stance; completely-support 0, partial, refute and irrelevant 1.
"""

from __future__ import annotations

import ast
import csv
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from training.data import file_sha256, source_name

__all__ = [
    "DIALOGUE_SOURCES",
    "GROUNDING_SOURCES",
    "LONG_CONTEXT_CAPS",
    "GroundedSet",
    "load_grounding_sources",
]


@dataclass
class GroundedSet:
    """Responses to judge against their context documents (``y`` 1 = unsupported)."""

    name: str
    contexts: list[list[str]] = field(default_factory=list)
    questions: list[str | None] = field(default_factory=list)
    responses: list[str] = field(default_factory=list)
    labels: list[int] = field(default_factory=list)
    sources: dict[str, str] = field(default_factory=dict)

    def add(self, context: list[str], question: str | None, response: str, label: int) -> None:
        context = [c.strip() for c in context if isinstance(c, str) and c.strip()]
        if context and isinstance(response, str) and response.strip():
            self.contexts.append(context)
            self.questions.append(
                question.strip() if isinstance(question, str) and question.strip() else None
            )
            self.responses.append(response.strip())
            self.labels.append(int(label))

    @property
    def y(self) -> np.ndarray:
        return np.asarray(self.labels, dtype=np.int64)

    def __len__(self) -> int:
        return len(self.labels)

    def capped(self, cap: int | None, seed: int = 7) -> GroundedSet:
        """At most ``cap`` items per label (seeded subsample, order kept)."""
        if cap is None:
            return self
        rng = np.random.default_rng(seed)
        keep: list[int] = []
        y = self.y
        for label in (0, 1):
            idx = np.flatnonzero(y == label)
            keep += (np.sort(rng.permutation(idx)[:cap]) if len(idx) > cap else idx).tolist()
        keep.sort()
        return GroundedSet(
            self.name,
            [self.contexts[i] for i in keep],
            [self.questions[i] for i in keep],
            [self.responses[i] for i in keep],
            [self.labels[i] for i in keep],
            dict(self.sources),
        )


def _csv(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def _jsonl(path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def _hash(ds: GroundedSet, files: list[Path]) -> GroundedSet:
    ds.sources = {source_name(p): file_sha256(p) for p in files}
    return ds


def load_halueval(root: Path) -> GroundedSet:
    files = [root / "hallucination" / "halueval_qa" / f"qa_{k}-turn_data.json" for k in ("one", "multi")]
    ds = GroundedSet("halueval_qa")
    for p in files:
        for r in _jsonl(p):
            ds.add([str(r["knowledge"])], str(r["question"]), str(r["right_answer"]), 0)
            ds.add([str(r["knowledge"])], str(r["question"]), str(r["hallucinated_answer"]), 1)
    return _hash(ds, files)


def load_q2(root: Path) -> GroundedSet:
    base = root / "hallucination" / "q2_dialogue"
    files = [base / f"{m}_{c}.csv" for m in ("dodeca", "memnet") for c in ("consistent", "inconsistent")]
    ds = GroundedSet("q2_dialogue")
    for p in files:
        for r in _csv(p):
            ds.add([r["knowledge"]], r["message"], r["response"], int("inconsistent" in p.name))
    return _hash(ds, files)


def load_fib(root: Path) -> GroundedSet:
    base = root / "hallucination" / "fib_summ" / "multiple_choice-dataset"
    files = sorted((base / "xsum" / "fib").glob("*.jsonl")) + sorted(
        (base / "cnn_dm" / "fib").glob("*.jsonl")
    )
    ds = GroundedSet("fib_summ")
    for p in files:
        for r in _jsonl(p):
            raw = r["list_choices"]
            choices = raw if isinstance(raw, list) else ast.literal_eval(str(raw))
            correct = str(r["correct_choice"])
            doc = str(r["input"]).split("\n")
            for c in choices:
                ds.add(doc, None, str(c), int(str(c).strip() != correct.strip()))
    return _hash(ds, files)


def load_faithdial(root: Path) -> GroundedSet:
    base = root / "hallucination" / "faithdial_wow" / "data-audit"
    files = [base / "gold" / "wow.csv", base / "CTRL" / "ctrl_processed_wow.csv"]
    files += [base / "DoHA" / "doha_processed_wow.csv", base / "GPT2" / "gpt2_processed_wow.csv"]
    ds = GroundedSet("faithdial_wow")
    for p in files:
        for r in _csv(p):
            if "evidence" in r:
                knowledge, response, label = r["evidence"], r["response"], r["BEGIN"]
            else:
                model = p.parent.name.lower()
                knowledge, response, label = r["knowledge"], r[model], r["begin_label"]
            label = label.lower()
            history = (r.get("history") or "").strip()
            if "hallucination" in label:
                ds.add([knowledge], history or None, response, 1)
            elif "entailment" in label:
                ds.add([knowledge], history or None, response, 0)
    return _hash(ds, files)


def load_dialfact(root: Path) -> GroundedSet:
    p = root / "hallucination" / "dialfact_small" / "scripts" / "testsmall.jsonl"
    ds = GroundedSet("dialfact_small")
    for r in _jsonl(p):
        raw = r["evidence_list"]
        evidence = [str(e[2]) for e in (raw if isinstance(raw, list) else ast.literal_eval(str(raw)))]
        context = r["context"]
        question = str(context[-1]) if isinstance(context, list) and context else None
        ds.add(evidence, question, str(r["response"]), int(r["response_label"] != "SUPPORTS"))
    return _hash(ds, [p])


def load_wice(root: Path) -> GroundedSet:
    base = (
        root
        / "hallucination"
        / "wice"
        / "code_and_resources"
        / "entailment_inputs"
        / "oracle_chunks"
        / "claim"
    )
    files = [base / "dev.jsonl", base / "test.jsonl"]
    ds = GroundedSet("wice")
    for p in files:
        for r in _jsonl(p):
            ev = r["evidence"]
            evidence = ev if isinstance(ev, list) else ast.literal_eval(str(ev))
            ds.add([str(e) for e in evidence], None, str(r["claim"]), int(r["label"] != "supported"))
    return _hash(ds, files)


def load_factcheck(root: Path) -> GroundedSet:
    p = root / "hallucination" / "factcheck_gpt" / "subtasks" / "subtask3_claim_evidence_stance.jsonl"
    ds = GroundedSet("factcheck_gpt")
    for r in _jsonl(p):
        ds.add([str(r["evidence"])], None, str(r["claim"]), int(r["stance"] != "completely-support"))
    return _hash(ds, [p])


GROUNDING_SOURCES: dict[str, Callable[[Path], GroundedSet]] = {
    "halueval_qa": load_halueval,
    "q2_dialogue": load_q2,
    "fib_summ": load_fib,
    "faithdial_wow": load_faithdial,
    "dialfact_small": load_dialfact,
    "wice": load_wice,
    "factcheck_gpt": load_factcheck,
}
DIALOGUE_SOURCES = ("q2_dialogue", "faithdial_wow", "dialfact_small")


LONG_CONTEXT_CAPS = {"fib_summ": 40, "wice": 40, "factcheck_gpt": 60}
"""Lower caps (responses per label) for the sources whose contexts are long news articles or
web pages: their context sentences dominate the embedding time."""


def load_grounding_sources(
    root: Path, cap: int | None, caps: dict[str, int] | None = None
) -> dict[str, GroundedSet]:
    """Every groundedness source, each capped at ``caps[name]`` (default ``cap``) items per label."""
    caps = LONG_CONTEXT_CAPS if caps is None else caps
    return {name: load(root).capped(caps.get(name, cap)) for name, load in GROUNDING_SOURCES.items()}
