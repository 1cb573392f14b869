"""Train the groundedness (hallucination) detector: ``make train-hallucination``
(= ``python -m training.train_hallucination``).

Seven sources (training/data_grounding.py), each capped at ``CAP`` responses per label (the
long-context ones lower, ``LONG_CONTEXT_CAPS``). Every
response sentence is compared with the context sentences
(:mod:`lightkeeper.processors.scoring._grounding_features`: MiniLM similarity, lexical, number,
entity, date, negation and antonym consistency), exactly as the runtime does. Candidates:

- ``*_max``: a sentence classifier trained with the response's label (weight 1 / sentences);
  the response scores its least supported sentence (``mono_lexical_max`` leaves out the three
  MiniLM similarity features);
- ``lr_pooled``: one logistic regression over [min, max, mean] of the sentence features; a
  sentence alone is scored as a one-sentence response.

Leave-one-source-out AUROC picks the candidate (best mean); token overlap (1 - share of the
response's tokens found in the context) is the baseline, on the same items. The threshold
maximizes the mean over held-out sources of balanced accuracy.
"""

from __future__ import annotations

import argparse
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from lightkeeper.processors.scoring._grounding_features import (
    FEATURE_NAMES,
    FEATURE_SIGNS,
    build_context,
    context_sentences,
    sentence_features,
    usable_question,
)
from lightkeeper.processors.scoring._grounding_text import analyse, split_sentences
from lightkeeper.processors.scoring._monotone_logit import MonotoneLogisticRegression
from lightkeeper.processors.scoring.hallucination import (
    MAX_CONTEXT_SENTENCES,
    MAX_RESPONSE_SENTENCES,
    pool_features,
)
from training.baselines import token_overlap_unsupported
from training.common import balanced_threshold, loso_table, write_artifact
from training.data import data_root
from training.data_grounding import DIALOGUE_SOURCES, LONG_CONTEXT_CAPS, GroundedSet, load_grounding_sources
from training.embed_cache import EmbeddingCache
from training.loso import LosoResult, balanced_weights, run_loso, source_folds

__all__ = ["CAP", "VERSION", "train"]

log = logging.getLogger(__name__)

VERSION = 2
CAP = 100


@dataclass
class Responses:
    """Every response of every source: its sentence features, label, source and baseline."""

    feats: list[np.ndarray]
    y: np.ndarray
    source_of: np.ndarray
    overlap: np.ndarray


def featurize(sources: dict[str, GroundedSet], cache: EmbeddingCache) -> Responses:
    feats: list[np.ndarray] = []
    ys: list[int] = []
    names: list[str] = []
    overlap: list[float] = []
    for name, ds in sources.items():
        for ctx_docs, q, resp, label in zip(ds.contexts, ds.questions, ds.responses, ds.labels, strict=True):
            ctx_sents = context_sentences(ctx_docs)[:MAX_CONTEXT_SENTENCES]
            sents = (split_sentences(resp) or [resp.strip()])[:MAX_RESPONSE_SENTENCES]
            vecs = cache.embed(ctx_sents + sents)
            ctx = build_context(ctx_sents, vecs[: len(ctx_sents)])
            qf = usable_question(analyse(q), ctx) if q else None
            rows = [
                sentence_features(analyse(s), vecs[len(ctx_sents) + k], ctx, qf) for k, s in enumerate(sents)
            ]
            feats.append(np.vstack(rows))
            ys.append(label)
            names.append(name)
            overlap.append(token_overlap_unsupported(resp, ctx_docs))
    return Responses(feats, np.asarray(ys), np.asarray(names), np.asarray(overlap))


def _sentence_rows(data: Responses, idx: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    w_resp = balanced_weights(data.source_of[idx], data.y[idx])
    xs, ys, ws = [], [], []
    for k, i in enumerate(idx):
        f = data.feats[i]
        xs.append(f)
        ys.append(np.full(len(f), data.y[i]))
        ws.append(np.full(len(f), w_resp[k] / len(f)))
    return np.vstack(xs), np.concatenate(ys), np.concatenate(ws)


def _standardized_lr() -> Any:
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    return make_pipeline(StandardScaler(), LogisticRegression(C=1.0, max_iter=3000))


def _mlp() -> Any:
    from sklearn.neural_network import MLPClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    return make_pipeline(
        StandardScaler(),
        MLPClassifier(
            hidden_layer_sizes=(32,), alpha=1e-2, max_iter=300, early_stopping=True, random_state=7
        ),
    )


def _mono() -> Any:
    return MonotoneLogisticRegression([FEATURE_SIGNS[n] for n in FEATURE_NAMES], C=0.5)


LEXICAL = [i for i, n in enumerate(FEATURE_NAMES) if not n.startswith("emb")]
"""Every feature but the three MiniLM similarities (the embedding still picks the closest context
sentence for the alignment features)."""
ALL = list(range(len(FEATURE_NAMES)))


def _mono_lexical() -> Any:
    return MonotoneLogisticRegression([FEATURE_SIGNS[FEATURE_NAMES[i]] for i in LEXICAL], C=0.5)


#: name -> (classifier factory, feature columns)
SENTENCE_CANDIDATES: dict[str, tuple[Callable[[], Any], list[int]]] = {
    "mono_max": (_mono, ALL),
    "mono_lexical_max": (_mono_lexical, LEXICAL),
    "lr_max": (_standardized_lr, ALL),
    "mlp_max": (_mlp, ALL),
}
CANDIDATES = (*SENTENCE_CANDIDATES, "lr_pooled")


def fit(name: str, data: Responses, idx: np.ndarray) -> tuple[Any, str, list[int]]:
    """Fitted classifier for candidate ``name``, its aggregation (max / pooled) and the sentence
    feature columns it reads."""
    if name == "lr_pooled":
        x = np.vstack([pool_features(data.feats[i]) for i in idx])
        clf = _standardized_lr()
        weights = balanced_weights(data.source_of[idx], data.y[idx])
        clf.fit(x, data.y[idx], logisticregression__sample_weight=weights)
        return clf, "pooled", ALL
    x, y, w = _sentence_rows(data, idx)
    make, cols = SENTENCE_CANDIDATES[name]
    clf = make()
    if name.startswith("mono"):
        clf.fit(x[:, cols], y, sample_weight=w)
    elif name == "lr_max":
        clf.fit(x[:, cols], y, logisticregression__sample_weight=w)
    else:
        clf.fit(x[:, cols], y, mlpclassifier__sample_weight=w)
    return clf, "max", cols


def predict(clf: Any, aggregate: str, cols: list[int], feats: list[np.ndarray]) -> np.ndarray:
    if aggregate == "pooled":
        return np.asarray(clf.predict_proba(np.vstack([pool_features(f) for f in feats]))[:, 1])
    return np.asarray([float(np.max(clf.predict_proba(f[:, cols])[:, 1])) for f in feats])


def train(
    data_dir: str | None = None, out_dir: str | None = None, version: int = VERSION, cap: int = CAP
) -> dict[str, Any]:
    sources = load_grounding_sources(data_root(data_dir), cap)
    data = featurize(sources, EmbeddingCache())
    folds = source_folds(data.source_of.tolist())
    baseline = run_loso(folds, data.y, lambda tr, te: data.overlap[te])
    log.info("token overlap: %s", baseline.auroc())
    results: dict[str, LosoResult] = {}
    for name in CANDIDATES:

        def fit_predict(tr: np.ndarray, te: np.ndarray, n: str = name) -> np.ndarray:
            clf, agg, cols = fit(n, data, tr)
            return predict(clf, agg, cols, [data.feats[i] for i in te])

        results[name] = run_loso(folds, data.y, fit_predict)
        log.info("%s: %s mean=%.3f", name, results[name].auroc(), results[name].mean_auroc())
    chosen = max(results, key=lambda n: (results[n].mean_auroc(), results[n].min_auroc()))
    threshold = balanced_threshold(results[chosen])
    clf, aggregate, columns = fit(chosen, data, np.arange(len(data.y)))
    extra = {}
    for n in results[chosen].y:
        y, s = results[chosen].y[n], results[chosen].scores[n]
        extra[n] = {
            "recall_at_threshold": float(np.mean(s[y == 1] >= threshold)),
            "fpr_at_threshold": float(np.mean(s[y == 0] >= threshold)),
            "n": float(len(y)),
        }
    table = loso_table(results[chosen].auroc(), baseline.auroc(), extra)
    card = {
        "head": chosen,
        "aggregate": aggregate,
        "feature_names": [FEATURE_NAMES[i] for i in columns],
        "threshold": threshold,
        "threshold_rule": "max mean over held-out sources of balanced accuracy (LOSO scores)",
        "max_per_label_per_source": {"default": cap, **LONG_CONTEXT_CAPS},
        "dialogue_sources": list(DIALOGUE_SOURCES),
        "loso": table,
        "loso_mean_auroc": {n: round(r.mean_auroc(), 4) for n, r in results.items()},
        "baseline": "token overlap: 1 - share of the response's tokens found in the context, same items",
        "data": {n: ds.sources for n, ds in sources.items()},
        "train_rows": {n: {"n": len(ds), "unsupported": int(ds.y.sum())} for n, ds in sources.items()},
        "command": "make train-hallucination",
    }
    model = {
        "clf": clf,
        "aggregate": aggregate,
        "columns": columns,
        "threshold": threshold,
        "feature_names": [FEATURE_NAMES[i] for i in columns],
    }
    write_artifact("hallucination", version, model, card, Path(out_dir) if out_dir else None)
    print(json.dumps({"chosen": chosen, "threshold": threshold, "loso": table}, indent=1))
    return card


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--data-dir")
    ap.add_argument("--out-dir")
    ap.add_argument("--version", type=int, default=VERSION)
    ap.add_argument("--cap", type=int, default=CAP)
    args = ap.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    train(args.data_dir, args.out_dir, args.version, args.cap)


if __name__ == "__main__":
    main()
