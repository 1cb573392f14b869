"""Train the toxicity detector.

Data: Davidson tweets (hate + offensive = toxic; "neither" = clean) and HateCheck (hateful =
toxic), plus — when ``augment`` — the even-indexed hand-written examples of
:mod:`training.augment_toxicity`. HateCheck ``profanity_nh`` cases (non-hateful
profanity such as "Fuck yeah!") are evaluated but not trained on: this detector's notion of
toxicity includes abusive profanity, which conflicts with that HateCheck label. Clean text of
the other development sets and template prompts (:mod:`training.benign`; two thirds
by source group, the rest held out) teaches it that ordinary assistant traffic is not toxic.

Reported (and written to the model card):
  - 3-fold CV within Davidson;
  - cross-dataset: Davidson -> HateCheck (AUROC, accuracy per functionality) and
    HateCheck -> Davidson (AUROC);
  - the shipped configuration: HateCheck scored out-of-fold with templates held out
    (GroupKFold by template, Davidson always in training), accuracy per functionality;
  - variants (logistic regression vs a small MLP over the embedding; with/without augmentation;
    optionally char TF-IDF and lexical cues; with/without clean text of other sources). The
    shipped variant is the one with the best mean of the Davidson -> HateCheck, HateCheck ->
    Davidson and template-held-out HateCheck AUROCs, not the best in-domain score;
  - the threshold: <= 1 % out-of-fold false positives on the clean texts of other sources;
    false positives at it on their held-out third (by source group) and on the demo's prompts.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from lightkeeper.errors import ConfigError
from lightkeeper.processors.scoring.toxicity import toxicity_features
from training import augment_toxicity as aug
from training.common import (
    SEED,
    binary_metrics,
    embed_cached,
    fpr_threshold,
    set_seeds,
    write_artifact,
)
from training.data import LabeledTexts, data_root, load_davidson, load_hatecheck

__all__ = ["make_model", "make_tfidf", "train"]

C = 1.0


def make_model(kind: str = "mlp", calibrate: bool = True) -> Any:
    """``lr``: logistic regression (C=1); ``mlp``: one hidden layer of 128 units (L2 1e-2, 60
    epochs). Classes are balanced through the sample weights (see :func:`_balanced`).
    Platt-calibrated (sigmoid on 3-fold cross-validated scores) when ``calibrate``."""
    from sklearn.calibration import CalibratedClassifierCV
    from sklearn.linear_model import LogisticRegression
    from sklearn.neural_network import MLPClassifier

    if kind == "lr":
        base: Any = LogisticRegression(C=C, max_iter=2000, random_state=SEED)
    elif kind == "mlp":
        base = MLPClassifier(hidden_layer_sizes=(128,), alpha=1e-2, max_iter=60, random_state=SEED)
    else:
        raise ValueError(f"unknown model kind {kind!r}")
    # ensemble=False: the base model is fitted on all the data and the sigmoid on 3-fold
    # cross-validated scores, so calibration is a monotone map of the full model's scores.
    return CalibratedClassifierCV(base, method="sigmoid", cv=3, ensemble=False) if calibrate else base


def _balanced(y: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Rescale ``w`` so both classes carry the same total weight (mean weight kept)."""
    out = w.astype(np.float64, copy=True)
    for c in (0, 1):
        total = out[y == c].sum()
        if total > 0:
            out[y == c] *= (w.sum() / 2) / total
    return out


def _fit(kind: str, x: Any, y: np.ndarray, w: np.ndarray, calibrate: bool) -> Any:
    import warnings

    from sklearn.exceptions import ConvergenceWarning

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # the MLP's epoch cap is deliberate
        return make_model(kind, calibrate).fit(x, y, sample_weight=_balanced(y, w))


def make_tfidf() -> Any:
    from sklearn.feature_extraction.text import TfidfVectorizer

    return TfidfVectorizer(
        analyzer="char_wb",
        ngram_range=(2, 5),
        min_df=3,
        max_features=40_000,
        sublinear_tf=True,
        lowercase=True,
    )


class _Set:
    """Texts + embeddings + labels (+ weights, tags, groups) of one training source."""

    def __init__(self, ds: LabeledTexts, emb: np.ndarray) -> None:
        self.texts, self.emb, self.y = ds.texts, emb, ds.y
        self.w = ds.weight if ds.weight is not None else np.ones(len(ds))
        self.tag = ds.tag or [""] * len(ds)
        self.group = ds.group or [str(i) for i in range(len(ds))]

    def take(self, idx: np.ndarray) -> tuple[list[str], np.ndarray, np.ndarray, np.ndarray]:
        return [self.texts[i] for i in idx], self.emb[idx], self.y[idx], self.w[idx]


def _fit_predict(
    train_parts: list[tuple[list[str], np.ndarray, np.ndarray, np.ndarray]],
    test: tuple[list[str], np.ndarray],
    use_tfidf: bool,
    lexicon: bool,
    kind: str,
    calibrate: bool = False,
) -> np.ndarray:
    texts = [t for p in train_parts for t in p[0]]
    emb = np.vstack([p[1] for p in train_parts])
    y = np.concatenate([p[2] for p in train_parts])
    w = np.concatenate([p[3] for p in train_parts])
    tfidf = make_tfidf().fit(texts) if use_tfidf else None
    x = toxicity_features(texts, emb, tfidf, lexicon)
    model = _fit(kind, x, y, w, calibrate)
    return np.asarray(model.predict_proba(toxicity_features(test[0], test[1], tfidf, lexicon))[:, 1])


def _per_functionality(tags: list[str], y: np.ndarray, p: np.ndarray, thr: float = 0.5) -> dict[str, float]:
    hits: dict[str, list[bool]] = defaultdict(list)
    for t, yy, pp in zip(tags, y, p, strict=True):
        hits[t].append(bool((pp >= thr) == bool(yy)))
    return {t: round(float(np.mean(v)), 3) for t, v in sorted(hits.items())}


def _evaluate_variant(
    dav: _Set,
    hc: _Set,
    extra: _Set | None,
    use_tfidf: bool,
    lexicon: bool,
    kind: str,
    echo: Callable[[str], None],
    benign: _Set | None = None,
) -> dict[str, Any]:
    """Cross-dataset figures of one variant. ``benign`` (clean texts of other sources) is in
    every training set; in the template-held-out HateCheck CV it is folded too, so each benign
    training text also gets an out-of-fold score (``res["benign_oof"]``, used for the threshold)."""
    from sklearn.model_selection import GroupKFold, StratifiedKFold

    everything = np.arange(len(dav.y))
    hc_train_mask = np.asarray([t != "profanity_nh" for t in hc.tag])
    extra_parts = [extra.take(np.arange(len(extra.y)))] if extra is not None else []
    if benign is not None:
        extra_parts.append(benign.take(np.arange(len(benign.y))))
    res: dict[str, Any] = {}

    # Davidson -> HateCheck (HateCheck never seen).
    p = _fit_predict([dav.take(everything), *extra_parts], (hc.texts, hc.emb), use_tfidf, lexicon, kind)
    res["davidson_to_hatecheck"] = binary_metrics(hc.y, p)
    res["davidson_to_hatecheck_by_functionality"] = _per_functionality(hc.tag, hc.y, p)
    # HateCheck -> Davidson.
    idx = np.flatnonzero(hc_train_mask)
    p = _fit_predict([hc.take(idx), *extra_parts], (dav.texts, dav.emb), use_tfidf, lexicon, kind)
    res["hatecheck_to_davidson"] = binary_metrics(dav.y, p)
    # Within Davidson, 3-fold.
    oof = np.zeros(len(dav.y))
    for tr, te in StratifiedKFold(3, shuffle=True, random_state=SEED).split(dav.emb, dav.y):
        test = ([dav.texts[i] for i in te], dav.emb[te])
        oof[te] = _fit_predict([dav.take(tr)], test, use_tfidf, lexicon, kind)
    res["davidson_cv3"] = binary_metrics(dav.y, oof)
    # Shipped setup: Davidson (+extra) + HateCheck minus held-out templates (+ benign folds).
    oof = np.zeros(len(hc.y))
    aug_parts = extra_parts[:1] if extra is not None else []
    n_b = len(benign.y) if benign is not None else 0
    b_fold = np.random.default_rng(SEED).integers(0, 3, n_b)
    b_oof = np.zeros(n_b)
    for k, (tr, te) in enumerate(GroupKFold(3).split(hc.emb, hc.y, groups=hc.group)):
        tr = tr[hc_train_mask[tr]]
        parts = [dav.take(everything), hc.take(tr), *aug_parts]
        test_texts, test_emb = [hc.texts[i] for i in te], hc.emb[te]
        if benign is not None:
            b_tr, b_te = np.flatnonzero(b_fold != k), np.flatnonzero(b_fold == k)
            parts.append(benign.take(b_tr))
            test_texts = test_texts + [benign.texts[i] for i in b_te]
            test_emb = np.vstack([test_emb, benign.emb[b_te]])
        # Calibrated like the shipped model, so the threshold chosen on these scores applies.
        p = _fit_predict(parts, (test_texts, test_emb), use_tfidf, lexicon, kind, calibrate=True)
        oof[te] = p[: len(te)]
        if benign is not None:
            b_oof[b_te] = p[len(te) :]
    res["benign_oof"] = b_oof
    res["hatecheck_oof"] = oof
    res["hatecheck_templates_heldout"] = binary_metrics(hc.y, oof)
    res["hatecheck_templates_heldout_by_functionality"] = _per_functionality(hc.tag, hc.y, oof)
    # Selection: mean of the two cross-dataset AUROCs and the template-held-out one (v1 used
    # only Davidson->HateCheck and templates-held-out; changed in v2 after seeing that the MLP
    # won that by 0.003 while generalizing worse in both cross-dataset directions).
    res["selection_score"] = round(
        (
            res["davidson_to_hatecheck"]["auroc"]
            + res["hatecheck_to_davidson"]["auroc"]
            + res["hatecheck_templates_heldout"]["auroc"]
        )
        / 3,
        4,
    )
    echo(
        f"    davidson cv3 AUROC {res['davidson_cv3']['auroc']:.4f} F1 {res['davidson_cv3']['f1']:.4f} | "
        f"davidson->hatecheck AUROC {res['davidson_to_hatecheck']['auroc']:.4f} "
        f"acc {res['davidson_to_hatecheck']['accuracy']:.4f} | "
        f"hatecheck->davidson AUROC {res['hatecheck_to_davidson']['auroc']:.4f} | "
        f"hatecheck templates held out AUROC {res['hatecheck_templates_heldout']['auroc']:.4f} "
        f"F1 {res['hatecheck_templates_heldout']['f1']:.4f}"
    )
    return res


#: Variants explored by default: (char TF-IDF, lexical cues, hand-written augmentation, model,
#: clean texts of other sources). TF-IDF and lexicon variants were measured in earlier runs
#: (docs/detectors.md) and lost on the cross-dataset scores; they stay available via ``variants=``.
#: The v1 configuration (mlp, emb+aug, no clean texts of other sources) is documented from its
#: card (docs/detectors.md) and left out of the default run to keep training within minutes.
DEFAULT_VARIANTS: tuple[tuple[bool, bool, bool, str, bool], ...] = (
    (False, False, True, "lr", True),
    (False, False, True, "mlp", True),
)


def _variant_name(tfidf: bool, lexicon: bool, augment: bool, kind: str, benign: bool = False) -> str:
    feats = "emb" + ("+tfidf" if tfidf else "") + ("+lex" if lexicon else "") + ("+aug" if augment else "")
    return f"{kind}:{feats}" + ("+benign" if benign else "")


def _benign_sets(root: Path) -> tuple[_Set, dict[str, tuple[list[str], np.ndarray]], dict[str, str]]:
    """Clean texts of the other development sets: the training part as one labeled set (y=0,
    weight ``BENIGN_WEIGHT``) and the held-out part per source (texts, embeddings). The
    jailbreak set's benign prompts: train split trained on, test split held out."""
    from training.benign import demo_prompts, load_benign
    from training.data import load_jailbreak

    split = load_benign(root)
    sources = dict(split.sources)
    train_texts: list[str] = []
    train_emb: list[np.ndarray] = []
    for name, items in split.train.items():
        train_texts += items
        train_emb.append(embed_cached(f"benign_{name}", items))
    held = {k: (v, embed_cached(f"benign_ho_{k}", v)) for k, v in split.heldout.items() if v}
    for part in ("train", "test"):
        try:
            jb = load_jailbreak(root, part)
        except ConfigError:  # a reduced data folder may lack it
            continue
        sources.update(jb.sources)
        ok = np.flatnonzero(jb.y == 0)
        emb = embed_cached(jb.name, jb.texts)[ok]  # same cache as the injection training
        texts = [jb.texts[i] for i in ok]
        if part == "train":
            train_texts += texts
            train_emb.append(emb)
        else:
            held["jailbreak_benign_test"] = (texts, emb)
    demo = demo_prompts()
    if demo:
        held["demo"] = (demo, embed_cached("benign_ho_demo", demo))
    ds = LabeledTexts(
        "benign_train",
        train_texts,
        np.zeros(len(train_texts), dtype=np.int64),
        weight=np.full(len(train_texts), BENIGN_WEIGHT),
    )
    emb_all = np.vstack(train_emb) if train_emb else np.zeros((0, 384), np.float32)
    return _Set(ds, emb_all), held, sources


BENIGN_WEIGHT = 1.0
TARGET_FPR = 0.01


def train(
    data_dir: str | None = None,
    out_dir: str | None = None,
    version: int = 4,
    augment: bool | None = None,
    variants: tuple[tuple[bool, bool, bool, str, bool], ...] = DEFAULT_VARIANTS,
    aug_weight: float = 5.0,
    davidson_weight: float = 0.3,
    target_fpr: float = TARGET_FPR,
    echo: Callable[[str], None] = print,
) -> dict[str, Any]:
    """Evaluate the ``variants``, fit the one with the best cross-dataset AUROC on everything,
    choose the threshold for <= ``target_fpr`` out-of-fold false positives on the benign
    training texts, report false positives on the held-out benign sources, write
    ``toxicity-v<version>`` and return the card. ``augment=False`` drops the augmented variants.
    Davidson sample weights are multiplied by ``davidson_weight``. ``version`` >= 3 trains
    toxicity-v3, and from 4 on with negation re-scoring (the shipped toxicity-v4), with
    :mod:`training.train_toxicity_v3` (the other options are v2's)."""
    if version >= 3:
        from training.train_toxicity_v3 import train as train_v3

        return train_v3(data_dir=data_dir, out_dir=out_dir, version=version, augment=augment, echo=echo)
    set_seeds()
    root = data_root(data_dir)
    dav_ds, hc_ds = load_davidson(root), load_hatecheck(root)
    dav = _Set(dav_ds, embed_cached(dav_ds.name, dav_ds.texts))
    dav.w = dav.w * davidson_weight  # tweets are plentiful but narrow: keep them from dominating
    hc = _Set(hc_ds, embed_cached(hc_ds.name, hc_ds.texts))
    clean_tr, clean_ho = aug.split_even_odd(aug.CLEAN_COUNTER + aug.CLEAN_EVERYDAY + aug.CLEAN_DIRECT)
    toxic_tr, toxic_ho = aug.split_even_odd(aug.TOXIC_EXTRA + aug.TOXIC_EVERYDAY + aug.TOXIC_DIRECT)
    extra_ds = LabeledTexts(
        "tox_aug_train",
        clean_tr + toxic_tr,
        np.asarray([0] * len(clean_tr) + [1] * len(toxic_tr)),
        weight=np.full(len(clean_tr) + len(toxic_tr), aug_weight),
    )
    extra = _Set(extra_ds, embed_cached(extra_ds.name, extra_ds.texts))
    ho_texts = clean_ho + toxic_ho
    ho_y = np.asarray([0] * len(clean_ho) + [1] * len(toxic_ho))
    ho_emb = embed_cached("tox_aug_heldout", ho_texts)
    benign, benign_ho, benign_sources = _benign_sets(root)
    echo(
        f"toxicity: davidson {len(dav.y)} tweets ({int(dav.y.sum())} toxic), hatecheck {len(hc.y)} "
        f"cases, clean texts of other sources {len(benign.y)} (+{sum(len(v[0]) for v in benign_ho.values())} "
        "held out)"
    )
    hc_mask = np.asarray([t != "profanity_nh" for t in hc.tag])
    hateful = hc.y == 1

    results: dict[str, dict[str, Any]] = {}
    for use_tfidf, use_lex, use_aug, kind, use_benign in variants:
        if augment is False and use_aug:
            continue
        name = _variant_name(use_tfidf, use_lex, use_aug, kind, use_benign)
        echo(f"  variant {name}:")
        b = benign if use_benign and len(benign.y) else None
        res = _evaluate_variant(dav, hc, extra if use_aug else None, use_tfidf, use_lex, kind, echo, b)
        b_oof, hc_oof = res.pop("benign_oof"), res.pop("hatecheck_oof")
        thr = min(0.9, max(0.3, fpr_threshold(b_oof, target_fpr))) if b is not None else 0.5
        res["threshold"] = round(thr, 4)
        res["hatecheck_templates_heldout_by_functionality"] = _per_functionality(hc.tag, hc.y, hc_oof, thr)
        res["hatecheck_hateful_recall_at_threshold"] = round(float(np.mean(hc_oof[hateful] >= thr)), 4)
        res["hatecheck_nonhateful_fpr_at_threshold"] = round(float(np.mean(hc_oof[~hateful] >= thr)), 4)
        parts = [dav.take(np.arange(len(dav.y))), hc.take(np.flatnonzero(hc_mask))]
        if use_aug:
            parts.append(extra.take(np.arange(len(extra.y))))
        if b is not None:
            parts.append(b.take(np.arange(len(b.y))))
        names = list(benign_ho)
        test_texts = ho_texts + [t for n in names for t in benign_ho[n][0]]
        test_emb = np.vstack([ho_emb, *[benign_ho[n][1] for n in names]])
        p = _fit_predict(parts, (test_texts, test_emb), use_tfidf, use_lex, kind, calibrate=True)
        res["handwritten_heldout"] = binary_metrics(ho_y, p[: len(ho_y)], thr)
        pos, fpr = len(ho_y), {}
        for n in names:
            k = len(benign_ho[n][0])
            fpr[n] = {"n": k, "fpr": round(float(np.mean(p[pos : pos + k] >= thr)), 4)}
            pos += k
        res["heldout_benign_fpr"] = fpr
        neg = p[len(ho_y) :]
        y_mix = np.concatenate([np.ones(int(hateful.sum())), np.zeros(len(neg))])
        res["hatecheck_hateful_vs_heldout_benign_auroc"] = binary_metrics(
            y_mix, np.concatenate([hc_oof[hateful], neg]), thr
        )["auroc"]
        echo(
            f"    threshold {thr:.3f}: HateCheck hateful recall "
            f"{res['hatecheck_hateful_recall_at_threshold']}, "
            f"hateful-vs-held-out-benign AUROC {res['hatecheck_hateful_vs_heldout_benign_auroc']}"
        )
        echo(f"    held-out benign FPR: { {n: v['fpr'] for n, v in fpr.items()} }")
        echo(f"    hand-written held-out (odd items): {res['handwritten_heldout']}")
        results[name] = {
            "tfidf": use_tfidf,
            "lexicon": use_lex,
            "augment": use_aug,
            "model": kind,
            "benign": b is not None,
            **res,
        }
    if not results:
        raise ConfigError("no toxicity variant left to train")
    best = max(results, key=lambda k: results[k]["selection_score"])
    chosen = results[best]
    threshold = float(chosen["threshold"])
    echo(f"  chosen variant: {best} (selection score {chosen['selection_score']}, threshold {threshold:.3f})")
    echo(
        "  HateCheck accuracy per functionality (templates held out): "
        f"{chosen['hatecheck_templates_heldout_by_functionality']}"
    )

    # Final fit on everything of the chosen variant, calibrated.
    parts = [dav.take(np.arange(len(dav.y))), hc.take(np.flatnonzero(hc_mask))]
    if chosen["augment"]:
        parts.append(extra.take(np.arange(len(extra.y))))
    if chosen["benign"]:
        parts.append(benign.take(np.arange(len(benign.y))))
    texts = [t for part in parts for t in part[0]]
    emb = np.vstack([part[1] for part in parts])
    y = np.concatenate([part[2] for part in parts])
    w = np.concatenate([part[3] for part in parts])
    vec = make_tfidf().fit(texts) if chosen["tfidf"] else None
    x = toxicity_features(texts, emb, vec, chosen["lexicon"])
    model = _fit(chosen["model"], x, y, w, calibrate=True)
    sources = {**dav_ds.sources, **hc_ds.sources, **(benign_sources if chosen["benign"] else {})}
    card = {
        "metrics": {"chosen": best, "variants": results},
        "params": {
            "model": chosen["model"],
            "lr_C": C,
            "mlp": "128 hidden, alpha 1e-2, 60 epochs",
            "davidson_max_offensive": 4000,
            "aug_weight": aug_weight,
            "davidson_weight": davidson_weight,
            "benign_weight": BENIGN_WEIGHT,
            "target_fpr_benign_oof": target_fpr,
            "seed": SEED,
            "calibration": "sigmoid on 3-fold CV scores, ensemble=False",
        },
        "threshold": threshold,
        "features": ["embedding[384]"]
        + (["lexical cues"] if chosen["lexicon"] else [])
        + (["char_wb 2-5 tfidf"] if chosen["tfidf"] else []),
        "training_data": {
            "files": sources,
            "n": len(y),
            "positives": int(y.sum()),
            "excluded": "hatecheck profanity_nh; held-out third of each clean source (by group)",
        },
    }
    artifact: dict[str, Any] = {
        "clf": model,
        "threshold": threshold,
        "tfidf": vec,
        "lexicon": chosen["lexicon"],
    }
    mp, cp = write_artifact("toxicity", version, artifact, card, Path(out_dir) if out_dir else None)
    echo(f"  wrote {mp} and {cp}")
    return card
