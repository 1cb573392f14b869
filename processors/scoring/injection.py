"""Prompt-injection / jailbreak scorer for prompts.

Features per prompt (shared by training and scoring, see :func:`injection_features`):
  - the MiniLM embedding of the prompt (computed once per event, shared with other scorers);
  - cosine similarity to known attack patterns (max and mean of the top 3), whose embeddings
    ship in the artifact, so the nearest pattern can be reported;
  - counts of cheap regex cues over the *whole* text (the embedding only reads the first 256
    word pieces, jailbreaks often hide the payload later);
  - log length.
injection-v3 adds the multilingual cue families of :mod:`lightkeeper.processors.scoring._injection_cues`
(the artifact's ``cue_set`` names the cues its classifier was trained on; v2 artifacts have none
and use :data:`CUE_PATTERNS` only).
A calibrated logistic regression turns them into a probability; the threshold was chosen on
out-of-fold scores for <= 1 % false positives on benign prompts, all of them and the jailbreak
set's benign prompts separately (see the model card).
"""

from __future__ import annotations

import math
import re
from typing import Any

import numpy as np

from lightkeeper.processors.embedding import single_thread_blas
from lightkeeper.processors.scoring._injection_cues import ML_CUE_PATTERNS
from lightkeeper.processors.scoring.base import ScoreInput, ScoreResult, item_embeddings, split_text_items

__all__ = ["CUE_PATTERNS", "CUE_SETS", "InjectionScorer", "injection_features", "regex_cues", "scale_tail"]

#: Regex cues (name -> pattern), counted over the whole prompt, capped at 3 each.
CUE_PATTERNS: dict[str, re.Pattern[str]] = {
    "override": re.compile(
        r"\b(ignore|disregard|forget|override|bypass)\b[^.\n]{0,40}\b(previous|prior|above|earlier|all|"
        r"any|your|these|those|original)\b[^.\n]{0,30}\b(instructions?|rules|guidelines|prompts?|"
        r"directions|polic(y|ies)|restrictions|programming|constraints)"
        r"|\b(ignore|disregard|forget)\s+(all\s+)?(of\s+)?(the\s+|everything\s+)?(above|before|prior|previous)\b",
        re.IGNORECASE,
    ),
    "exfiltrate": re.compile(
        r"\b(reveal|print|repeat|show|output|leak|display|tell me|what (is|are|were))\b[^.\n]{0,30}"
        r"\b(your|the)\b[^.\n]{0,20}\b(system prompt|instructions|initial prompt|hidden prompt|password|"
        r"secret|rules you)|\byour (system prompt|system message|initial instructions|hidden instructions)",
        re.IGNORECASE,
    ),
    "persona": re.compile(
        r"\b(DAN|do anything now|developer mode|dev mode|jailbr(eak|oken)|god mode|"
        r"unrestricted|unfiltered|uncensored|amoral|no (restrictions|limits|limitations|filters|"
        r"rules|boundaries|ethics|morals))\b",
        re.IGNORECASE,
    ),
    "roleplay": re.compile(
        r"\b(stay in character|break(ing)? character|you are now|from now on|pretend (to be|you)|"
        r"act as|roleplay|role-play|simulate)\b",
        re.IGNORECASE,
    ),
    "no_refusal": re.compile(
        r"\b(never (refuse|say no|decline)|(without|no|any) (warnings?|disclaimers?|censorship|"
        r"moral|ethical)|can(no|')t refuse|must (comply|answer|obey))",
        re.IGNORECASE,
    ),
    "policy": re.compile(
        r"\b(openai|anthropic|content|usage|safety)\s+(polic(y|ies)|guidelines|filters?)\b", re.IGNORECASE
    ),
    "markup": re.compile(
        r"(</?(system|user|assistant)>|###\s*(instruction|system)|\[/?INST\])", re.IGNORECASE
    ),
}


#: Cue set name (stored in the artifact as ``cue_set``) -> the cues its features count, in order.
#: "v2": the 7 English cues; "v3": those plus the 5 multilingual families.
CUE_SETS: dict[str, dict[str, re.Pattern[str]]] = {
    "v2": CUE_PATTERNS,
    "v3": {**CUE_PATTERNS, **ML_CUE_PATTERNS},
}


def regex_cues(text: str, cues: dict[str, re.Pattern[str]] | None = None) -> list[float]:
    """Count of each cue of ``cues`` (default :data:`CUE_PATTERNS`) in ``text`` (capped at 3),
    in dict order."""
    pats = CUE_PATTERNS if cues is None else cues
    return [float(min(3, len(p.findall(text)))) for p in pats.values()]


def injection_features(
    texts: list[str], emb: np.ndarray, pattern_emb: np.ndarray, cue_set: str = "v2"
) -> tuple[np.ndarray, np.ndarray]:
    """Feature matrix (n, 384 + 2 + len(cues) + 1) and the index of each text's nearest attack
    pattern; ``cue_set`` picks the cues (:data:`CUE_SETS`). ``emb`` rows and ``pattern_emb`` rows
    are L2-normalized."""
    cues = CUE_SETS[cue_set]
    sims = emb @ pattern_emb.T if len(pattern_emb) else np.zeros((len(texts), 1), dtype=np.float32)
    top = np.sort(sims, axis=1)[:, ::-1][:, :3]
    nearest = np.argmax(sims, axis=1)
    extra = np.empty((len(texts), 2 + len(cues) + 1), dtype=np.float32)
    extra[:, 0] = top[:, 0]
    extra[:, 1] = top.mean(axis=1)
    for i, t in enumerate(texts):
        extra[i, 2:-1] = regex_cues(t, cues)
        extra[i, -1] = math.log1p(len(t)) / 10.0
    return np.hstack([emb.astype(np.float32, copy=False), extra]), nearest


def scale_tail(x: np.ndarray, start: int = 384, factor: float = 1.0) -> np.ndarray:
    """``x`` with columns ``start:`` (the hand-made features after the embedding) multiplied by
    ``factor``; used inside v3's model pipeline after standardization, so the L2 penalty shrinks
    these 20 features less than the 384 embedding dimensions."""
    out = np.array(x, dtype=np.float64, copy=True)
    out[:, start:] *= factor
    return out


class InjectionScorer:
    """Scores prompts: probability (0-1) that the prompt is an injection or jailbreak attempt.

    Holds the loaded artifact (calibrated classifier, attack-pattern texts and embeddings,
    threshold, cue set). ``details``: label, nearest_pattern, similarity, cues (names of regex cues hit),
    model_version.
    """

    name = "injection"

    def __init__(self, artifact_path: str | None = None, embedder: Any = None) -> None:
        from lightkeeper.processors.scoring.registry import load_artifact

        art = load_artifact("injection", artifact_path)
        self._clf = art["clf"]
        self._patterns: list[str] = list(art["patterns"])
        self._pattern_emb = np.asarray(art["pattern_emb"], dtype=np.float32)
        self.threshold = float(art["threshold"])
        self.version = str(art["version"])
        self.cue_set = str(art.get("cue_set", "v2"))
        if self.cue_set not in CUE_SETS:
            from lightkeeper.processors.scoring.registry import ArtifactError

            raise ArtifactError(f"injection artifact {self.version}: unknown cue set {self.cue_set!r}")
        self._embedder = embedder

    def _get_embedder(self) -> Any:
        if self._embedder is None:
            from lightkeeper.processors.embedding import get_embedder

            self._embedder = get_embedder()
        return self._embedder

    def score_batch(self, items: list[ScoreInput]) -> list[ScoreResult]:
        """One result per item, in order; an item without text gets ``score=None`` and an error."""
        ok, results = split_text_items(items, self._pattern_emb.shape[1])
        if ok:
            sub = [items[i] for i in ok]
            texts = [it.text for it in sub]
            emb = item_embeddings(sub, self._pattern_emb.shape[1], self._get_embedder())
            with single_thread_blas():
                feats, nearest = injection_features(texts, emb, self._pattern_emb, self.cue_set)
                probs = self._clf.predict_proba(feats)[:, 1]
            cue_names = list(CUE_SETS[self.cue_set])
            for j, i in enumerate(ok):
                p = float(np.clip(probs[j], 0.0, 1.0))
                flagged = p >= self.threshold
                k = int(nearest[j])
                cues = [cue_names[c] for c, v in enumerate(feats[j, -1 - len(cue_names) : -1]) if v > 0]
                results[i] = ScoreResult(
                    round(p, 6),
                    {
                        "label": "injection" if flagged else "benign",
                        "nearest_pattern": self._patterns[k] if self._patterns else None,
                        "similarity": round(float(feats[j, 384]), 4),
                        "cues": cues,
                        "threshold": self.threshold,
                        "model_version": self.version,
                    },
                    flagged,
                )
        return [r if r is not None else ScoreResult(None, {"error": "not scored"}) for r in results]
