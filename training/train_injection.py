"""Train the prompt-injection / jailbreak detector.

Data: ``injection/jailbreak_classification`` train split (+ the hand-written lists of
:mod:`training.augment_injection`, even indices; from version 3 on also those of
:mod:`training.augment_injection_v3`: multilingual attacks and benign prompts, short
English persona / extraction / indirect attacks and hard negatives, even indices). The test
split and the odd-indexed hand-written prompts are never used for fitting or tuning; they are
only evaluated.

Model: calibrated logistic regression over :func:`lightkeeper.processors.scoring.injection.injection_features`
(MiniLM embedding + similarity to known attack patterns + regex cues). Version 3 adds the
multilingual cue families (cue set "v3"), the translated attack patterns and a x3 scale on the
standardized hand-made features (weaker shrinkage than on the embedding). C is chosen by 5-fold
CV on the training split; the decision threshold is the lowest giving <= ``target_fpr``
out-of-fold false positives on all benign training prompts and on the jailbreak set's benign
prompts (v3: also <= ``hard_fpr`` on the hand-written hard negatives).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import numpy as np

from lightkeeper.errors import ConfigError
from lightkeeper.processors.scoring.injection import CUE_SETS, injection_features, scale_tail
from training import augment_injection as aug
from training import augment_injection_v3 as aug3
from training.common import (
    SEED,
    binary_metrics,
    embed_cached,
    fpr_threshold,
    set_seeds,
    write_artifact,
)
from training.data import data_root, load_davidson, load_jailbreak

__all__ = ["make_model", "train"]

log = logging.getLogger(__name__)

C_GRID = (0.03, 0.1, 0.3)
#: Lower bound of the threshold (v1 used a 0.5 floor).
MIN_THRESHOLD = 0.2
#: v3: standardized non-embedding features x this factor before the LR (see make_model).
TAIL_SCALE_V3 = 3.0


def make_model(c: float, tail_scale: float = 1.0) -> Any:
    """Standardized features -> Platt-calibrated (5-fold) balanced logistic regression. With
    ``tail_scale`` != 1 the standardized non-embedding features are multiplied by it (weaker
    L2 shrinkage on them, :func:`lightkeeper.processors.scoring.injection.scale_tail`)."""
    from sklearn.calibration import CalibratedClassifierCV
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import FunctionTransformer, StandardScaler

    lr = LogisticRegression(C=c, class_weight="balanced", max_iter=3000, random_state=SEED)
    steps: list[tuple[str, Any]] = [("scale", StandardScaler())]
    if tail_scale != 1.0:
        steps.append(("tail", FunctionTransformer(scale_tail, kw_args={"factor": tail_scale})))
    steps.append(("clf", CalibratedClassifierCV(lr, method="sigmoid", cv=5)))
    return Pipeline(steps)


def _fit(c: float, x: np.ndarray, y: np.ndarray, w: np.ndarray, tail_scale: float = 1.0) -> Any:
    return make_model(c, tail_scale).fit(x, y, clf__sample_weight=w)


def _oof(x: np.ndarray, y: np.ndarray, w: np.ndarray, c: float, tail_scale: float = 1.0) -> np.ndarray:
    from sklearn.model_selection import StratifiedKFold

    out = np.zeros(len(y))
    for tr, te in StratifiedKFold(5, shuffle=True, random_state=SEED).split(x, y):
        out[te] = _fit(c, x[tr], y[tr], w[tr], tail_scale).predict_proba(x[te])[:, 1]
    return out


def _tfidf_baseline(tr_texts: list[str], y: np.ndarray, te_texts: list[str], yte: np.ndarray) -> float:
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import roc_auc_score

    vec = TfidfVectorizer(ngram_range=(1, 2), min_df=2, sublinear_tf=True)
    clf = LogisticRegression(max_iter=2000, class_weight="balanced").fit(vec.fit_transform(tr_texts), y)
    return round(float(roc_auc_score(yte, clf.predict_proba(vec.transform(te_texts))[:, 1])), 4)


def _benign(
    root: Any, pattern_emb: np.ndarray, cue_set: str = "v2"
) -> tuple[np.ndarray, dict[str, tuple[list[str], np.ndarray]]]:
    """Features of the clean texts of the other development sets (training part) and the
    held-out part per source (texts, features): HaluEval, Q², presidio, template prompts
    (:mod:`training.benign`), Davidson "neither" tweets (a seeded 1,500, one in three
    held out) and the demo's prompts (held out only)."""
    from training.benign import demo_prompts, load_benign

    split = load_benign(root)
    parts = [
        injection_features(t, embed_cached(f"benign_{n}", t), pattern_emb, cue_set)[0]
        for n, t in split.train.items()
    ]
    held = {n: t for n, t in split.heldout.items() if t}
    held_emb: dict[str, tuple[list[str], np.ndarray]] = {}
    try:
        dav = load_davidson(root)  # default subsample: reuses the cached embeddings
    except ConfigError:  # a reduced data folder may lack it
        dav = None
    if dav is not None:
        neither = np.flatnonzero(np.asarray(dav.tag) == "neither")
        pick = np.sort(
            np.random.default_rng(SEED).choice(neither, size=min(1500, len(neither)), replace=False)
        )
        emb = embed_cached(dav.name, dav.texts)  # same cache as the toxicity training
        tr, ho = pick[pick % 3 != 0], pick[pick % 3 == 0]
        parts.append(injection_features([dav.texts[i] for i in tr], emb[tr], pattern_emb, cue_set)[0])
        held_emb["davidson_neither"] = ([dav.texts[i] for i in ho], emb[ho])
    if demo := demo_prompts():
        held["demo"] = demo
    held_emb.update({n: (t, embed_cached(f"benign_ho_{n}", t)) for n, t in held.items()})
    held_feats = {n: (t, injection_features(t, e, pattern_emb, cue_set)[0]) for n, (t, e) in held_emb.items()}
    x = np.vstack(parts) if parts else np.zeros((0, 384 + 3 + len(CUE_SETS[cue_set])), np.float32)
    return x, held_feats


def _eval_v3_lists(
    model: Any,
    feats: Callable[[str, list[str]], np.ndarray],
    lists: dict[str, tuple[int, list[str], list[str]]],
    threshold: float,
) -> dict[str, Any]:
    """Held-out (odd-half) figures of the v3 hand-written lists: flag rate per list (recall for
    attack lists, FPR for benign ones), AUROC of multilingual attacks vs multilingual benign and
    of English attacks vs English hard negatives, and the misclassified prompts."""
    from sklearn.metrics import roc_auc_score

    if not lists:
        return {}
    probs = {n: model.predict_proba(feats(f"inj_v3_ho_{n}", ho))[:, 1] for n, (_, _, ho) in lists.items()}
    out: dict[str, Any] = {
        n: {"n": len(lists[n][2]), "flag_rate": round(float(np.mean(p >= threshold)), 4)}
        for n, p in probs.items()
    }
    for key, pos, neg in (
        ("auroc_multilingual", "ML_ATTACKS", "ML_BENIGN"),
        ("auroc_english", "EN_ATTACKS", "EN_HARD_NEGATIVES"),
    ):
        y = np.r_[np.ones(len(probs[pos])), np.zeros(len(probs[neg]))]
        out[key] = round(float(roc_auc_score(y, np.r_[probs[pos], probs[neg]])), 4)
    out["errors"] = {
        n: [t for t, p in zip(lists[n][2], probs[n], strict=True) if (p >= threshold) != bool(lists[n][0])]
        for n in lists
    }
    return out


def train(
    data_dir: str | None = None,
    out_dir: str | None = None,
    version: int = 3,
    augment: bool = True,
    target_fpr: float = 0.01,
    aug_weight: float = 3.0,
    benign_weight: float = 1.0,
    hard_fpr: float = 0.02,
    jb_fpr: float | None = None,
    c_grid: tuple[float, ...] | None = None,
    tail_scale: float | None = None,
    echo: Callable[[str], None] = print,
) -> dict[str, Any]:
    """Train, evaluate, write ``injection-v<version>`` and return the card. ``augment=False``
    drops the hand-written examples and the clean texts of other sources. ``version`` < 3
    rebuilds the v2 recipe (v2 cues, English patterns and lists only). From version 3 on the
    threshold also keeps the out-of-fold FPR on the hand-written hard negatives (tricky benign
    prompts, multilingual benign prompts, English hard negatives; even halves) <= ``hard_fpr``.
    ``jb_fpr``: the OOF FPR bound on the jailbreak set's benign prompts (default ``target_fpr``);
    ``c_grid``: the C values tried (default :data:`C_GRID`); ``tail_scale``: see
    :func:`make_model` (default :data:`TAIL_SCALE_V3` from version 3 on, else 1)."""
    from pathlib import Path

    set_seeds()
    root = data_root(data_dir)
    jb_tr, jb_te = load_jailbreak(root, "train"), load_jailbreak(root, "test")
    v3 = version >= 3
    cue_set = "v3" if v3 else "v2"
    atk_tr, atk_ho = aug.split_even_odd(aug.ATTACK_EXAMPLES)
    tricky_tr, tricky_ho = aug.split_even_odd(aug.BENIGN_TRICKY)
    plain_tr, plain_ho = aug.split_even_odd(aug.BENIGN_PLAIN)
    # v3 lists: name -> (label, even half, odd half); the odd halves are evaluated only.
    v3_lists = {
        n: (lab, *aug.split_even_odd(getattr(aug3, n)))
        for n, lab in (("ML_ATTACKS", 1), ("EN_ATTACKS", 1), ("ML_BENIGN", 0), ("EN_HARD_NEGATIVES", 0))
        if v3
    }
    patterns = list(aug.ATTACK_PATTERNS) + (list(aug3.ML_PATTERNS) if v3 else [])
    pattern_emb = embed_cached("inj_patterns", patterns)

    def feats(name: str, texts: list[str]) -> np.ndarray:
        return injection_features(texts, embed_cached(name, texts), pattern_emb, cue_set)[0]

    x_jb, x_te = feats(jb_tr.name, jb_tr.texts), feats(jb_te.name, jb_te.texts)
    v3_pos = [t for lab, tr, _ in v3_lists.values() if lab == 1 for t in tr]
    v3_neg = [t for lab, tr, _ in v3_lists.values() if lab == 0 for t in tr]
    x_aug = feats("inj_aug_train", atk_tr + v3_pos + tricky_tr + plain_tr + v3_neg)
    y_aug = np.asarray(
        [1] * (len(atk_tr) + len(v3_pos)) + [0] * (len(tricky_tr) + len(plain_tr) + len(v3_neg))
    )
    x_ho = feats("inj_aug_heldout", atk_ho + tricky_ho + plain_ho)
    y_ho = np.asarray([1] * len(atk_ho) + [0] * (len(tricky_ho) + len(plain_ho)))
    n_atk_ho, n_tricky_ho = len(atk_ho), len(tricky_ho)

    x_bn, held_bn = _benign(root, pattern_emb, cue_set) if augment else (x_aug[:0], {})
    x = np.vstack([x_jb, x_aug, x_bn]) if augment else x_jb
    y = np.concatenate([jb_tr.y, y_aug, np.zeros(len(x_bn), np.int64)]) if augment else jb_tr.y
    w = (
        np.concatenate(
            [np.ones(len(jb_tr.y)), np.full(len(y_aug), aug_weight), np.full(len(x_bn), benign_weight)]
        )
        if augment
        else np.ones(len(y))
    )
    echo(
        f"injection: {len(y)} training prompts ({int(y.sum())} attacks), "
        f"augment={augment} (weight {aug_weight})"
    )

    cv_scores: dict[str, float] = {}
    oof_by_c: dict[float, np.ndarray] = {}
    grid = c_grid or C_GRID
    ts = tail_scale if tail_scale is not None else (TAIL_SCALE_V3 if v3 else 1.0)
    for c in grid:
        oof_by_c[c] = _oof(x, y, w, c, ts)
        cv_scores[str(c)] = binary_metrics(y, oof_by_c[c])["auroc"]
        echo(f"  5-fold CV AUROC (train split) C={c}: {cv_scores[str(c)]:.4f}")
    best_c = max(grid, key=lambda c: cv_scores[str(c)])
    oof = oof_by_c[best_c]
    # <= target_fpr out-of-fold false positives on ALL benign prompts and, separately, on the
    # jailbreak set's benign prompts (long role-play / persona prompts: the hard negatives; the
    # easy clean texts of other sources would otherwise pull the threshold down).
    jb_benign = oof[: len(jb_tr.y)][jb_tr.y == 0]
    # Hand-written hard negatives (v3): rows of x_aug after the attacks, minus the plain prompts.
    n_pos_aug = len(atk_tr) + len(v3_pos)
    aug_oof = oof[len(jb_tr.y) : len(jb_tr.y) + len(y_aug)]
    hard_oof = np.r_[
        aug_oof[n_pos_aug : n_pos_aug + len(tricky_tr)], aug_oof[n_pos_aug + len(tricky_tr) + len(plain_tr) :]
    ]
    threshold = max(
        MIN_THRESHOLD,
        fpr_threshold(oof[y == 0], target_fpr),
        fpr_threshold(jb_benign, target_fpr if jb_fpr is None else jb_fpr),
    )
    if v3 and augment and len(hard_oof):
        threshold = max(threshold, fpr_threshold(hard_oof, hard_fpr))
    cv = binary_metrics(y, oof, threshold)
    oof_groups = {
        "jailbreak_benign_fpr": round(float(np.mean(jb_benign >= threshold)), 4),
        "handwritten_hard_negative_fpr": round(float(np.mean(hard_oof >= threshold)), 4)
        if len(hard_oof)
        else None,
        "handwritten_attack_recall": round(float(np.mean(aug_oof[:n_pos_aug] >= threshold)), 4)
        if augment
        else None,
    }
    echo(
        f"  chosen C={best_c}; threshold {threshold:.4f} "
        f"(OOF FPR <= {target_fpr:.1%} on all benign, <= {target_fpr if jb_fpr is None else jb_fpr:.1%} "
        "on jailbreak-set benign" + (f", <= {hard_fpr:.0%} on hand-written hard negatives)" if v3 else ")")
    )
    echo(f"  OOF at threshold by group: {oof_groups}")
    echo(f"  CV (out-of-fold) at threshold: {cv}")

    model = _fit(best_c, x, y, w, ts)
    p_te = model.predict_proba(x_te)[:, 1]
    p_ho = model.predict_proba(x_ho)[:, 1]
    test = binary_metrics(jb_te.y, p_te, threshold)
    test["fpr_benign"] = round(float(np.mean(p_te[jb_te.y == 0] >= threshold)), 4)
    held = binary_metrics(y_ho, p_ho, threshold)
    held["fpr_tricky"] = round(float(np.mean(p_ho[n_atk_ho : n_atk_ho + n_tricky_ho] >= threshold)), 4)
    held["fpr_plain"] = round(float(np.mean(p_ho[n_atk_ho + n_tricky_ho :] >= threshold)), 4)
    held["tpr_attacks"] = round(float(np.mean(p_ho[:n_atk_ho] >= threshold)), 4)
    fp_tricky = [
        t for t, p in zip(tricky_ho, p_ho[n_atk_ho : n_atk_ho + n_tricky_ho], strict=True) if p >= threshold
    ]
    benign_fpr = {
        n: {"n": len(t), "fpr": round(float(np.mean(model.predict_proba(f)[:, 1] >= threshold)), 4)}
        for n, (t, f) in held_bn.items()
    }
    fp_benign = {
        n: [t for t, p in zip(tt, model.predict_proba(f)[:, 1], strict=True) if p >= threshold][:5]
        for n, (tt, f) in held_bn.items()
    }
    echo(f"  held-out jailbreak test split: {test}")
    echo(f"  held-out clean sources, FPR at threshold: { {n: v['fpr'] for n, v in benign_fpr.items()} }")
    if any(fp_benign.values()):
        echo(f"  examples of held-out clean false positives: { {n: v for n, v in fp_benign.items() if v} }")
    echo(f"  held-out hand-written prompts: {held}")
    if fp_tricky:
        echo(f"  false positives among held-out tricky benign prompts: {fp_tricky}")
    held_v3 = _eval_v3_lists(model, feats, v3_lists, threshold)
    if held_v3:
        echo(f"  held-out v3 hand-written lists (odd halves): {held_v3}")

    ablation: dict[str, Any] = {
        "tfidf_lr_baseline_test_auroc": _tfidf_baseline(jb_tr.texts, jb_tr.y, jb_te.texts, jb_te.y),
        "embedding_only_test_auroc": binary_metrics(
            jb_te.y, _fit(best_c, x[:, :384], y, w).predict_proba(x_te[:, :384])[:, 1]
        )["auroc"],
    }
    if augment:
        m0 = _fit(best_c, x_jb, jb_tr.y, np.ones(len(jb_tr.y)), ts)
        ablation["no_augmentation_test_auroc"] = binary_metrics(jb_te.y, m0.predict_proba(x_te)[:, 1])[
            "auroc"
        ]
        ablation["no_augmentation_heldout_handwritten"] = binary_metrics(
            y_ho, m0.predict_proba(x_ho)[:, 1], threshold
        )
    echo(f"  ablation: {ablation}")

    sources = {**jb_tr.sources}
    card = {
        "metrics": {
            "cv_auroc_by_C": cv_scores,
            "cv_out_of_fold": cv,
            "cv_out_of_fold_groups": oof_groups,
            "test_split": test,
            "heldout_handwritten": held,
            "heldout_tricky_false_positives": fp_tricky,
            "heldout_v3_lists": held_v3,
            "heldout_benign_fpr": benign_fpr,
            "heldout_benign_false_positives": {n: v for n, v in fp_benign.items() if v},
            "ablation": ablation,
        },
        "params": {
            "C": best_c,
            "augment": augment,
            "aug_weight": aug_weight,
            "benign_weight": benign_weight,
            "n_benign_other_sources": len(x_bn),
            "target_fpr": target_fpr,
            "hard_fpr": hard_fpr if v3 else None,
            "jb_fpr": target_fpr if jb_fpr is None else jb_fpr,
            "tail_scale": ts,
            "seed": SEED,
        },
        "threshold": threshold,
        "cue_set": cue_set,
        "n_patterns": len(patterns),
        "features": ["embedding[384]", "pattern_sim_max", "pattern_sim_top3", *CUE_SETS[cue_set], "log_len"],
        "training_data": {"files": sources, "n": len(y), "positives": int(y.sum())},
    }
    artifact = {
        "clf": model,
        "threshold": threshold,
        "patterns": patterns,
        "pattern_emb": pattern_emb,
        "cue_set": cue_set,
    }
    mp, cp = write_artifact("injection", version, artifact, card, Path(out_dir) if out_dir else None)
    echo(f"  wrote {mp} and {cp}")
    return card
