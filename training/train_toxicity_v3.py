"""Train toxicity-v3 (``lightkeeper train toxicity --version 3``).

Changes from v2 (``train_toxicity.py``), each measured with the same cross-dataset protocol:

* more hand-written data (:mod:`training.augment_toxicity_v3`: negation,
  counter-speech, identity mentions, hard clean text; harassment, threats, sexual harassment,
  self-harm encouragement, hate without slurs; quoted abuse in condemning / endorsing frames),
  even items trained on, odd items held out;
* label harmonization: Davidson tweets weigh ``DAVIDSON_WEIGHT`` (v2 0.3) and "offensive"-only
  tweets (mostly casual profanity) a further ``OFFENSIVE_FACTOR``;
* logistic regression with ``C`` = 0.3 (v2 1.0) over the embedding and the counter-speech cues
  of :mod:`lightkeeper.processors.scoring._toxicity_quotes` (optional per variant);
* quote framing at scoring time (optional per variant): a text with a double-quoted span keeps
  the lower of its full-text and frame scores (no fitted parameter; see that module).

toxicity-v4 (``--version 4``) is the same model and protocol plus **negation re-scoring** at
scoring time: a short negated-negative statement keeps ``min(score, 1 - score(affirmed))``
(:mod:`lightkeeper.processors.scoring._toxicity_negation`; no fitted parameter, same gate as the quotes).

Reported per variant (and written to the card): Davidson -> HateCheck and HateCheck -> Davidson
AUROC, HateCheck with templates held out (threshold, recall, non-hateful FPR, accuracy per
functionality), HateCheck with whole FUNCTIONALITIES held out (stricter: no case of the
held-out functionality in training), false positives on the held-out clean sources, AUROC on
both hand-written held-out halves and the demo's scripted abuse. Selection: the mean of the two
cross-dataset AUROCs and the template-held-out one (v2's rule).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from lightkeeper.errors import ConfigError
from lightkeeper.processors.scoring._toxicity_negation import denegate
from lightkeeper.processors.scoring._toxicity_quotes import COUNTER_CUES, combine_quote_scores, quote_frame
from lightkeeper.processors.scoring.toxicity import toxicity_features
from training import augment_toxicity as aug
from training.augment_toxicity_v3 import v3_split
from training.common import (
    SEED,
    binary_metrics,
    embed_cached,
    fpr_threshold,
    set_seeds,
    write_artifact,
)
from training.data import LabeledTexts, data_root, load_davidson, load_hatecheck
from training.train_toxicity import _balanced, _benign_sets, _per_functionality, _Set

__all__ = ["V3_VARIANTS", "train"]

C3 = 0.3
DAVIDSON_WEIGHT = 0.1
OFFENSIVE_FACTOR = 0.3
AUG_WEIGHT = 5.0
GATE_BELOW_THRESHOLD = 0.1
#: (counter-speech cues, quote framing) per variant.
V3_VARIANTS: tuple[tuple[bool, bool], ...] = ((False, False), (True, False), (True, True))


class _Frames:
    """Quote frames of one text set: ``idx`` (positions of the texts that have a frame), the
    frame ``texts`` and their embeddings ``emb``."""

    def __init__(self, idx: np.ndarray, texts: list[str], emb: np.ndarray) -> None:
        self.idx, self.texts, self.emb = idx, texts, emb

    @classmethod
    def build(cls, name: str, texts: list[str], kind: str = "frames") -> _Frames:
        """Quote frames (``kind="frames"``) or affirmed forms of negated-negative statements
        (``kind="neg"``) of ``texts``, embedded (cached on disk as ``tox_<kind>_<name>``)."""
        make = quote_frame if kind == "frames" else denegate
        pairs = [(i, f) for i, t in enumerate(texts) if (f := make(t)) is not None]
        frames = [f for _, f in pairs]
        emb = embed_cached(f"tox_{kind}_{name}", frames) if pairs else np.zeros((0, 384), np.float32)
        return cls(np.asarray([i for i, _ in pairs], dtype=np.int64), frames, emb)

    def sub(self, rows: np.ndarray) -> _Frames:
        """The frames of ``rows`` (positions in the parent set), re-indexed to ``rows`` order."""
        pos = {int(r): k for k, r in enumerate(rows)}
        keep = [k for k, i in enumerate(self.idx) if int(i) in pos]
        return _Frames(
            np.asarray([pos[int(self.idx[k])] for k in keep], dtype=np.int64),
            [self.texts[k] for k in keep],
            self.emb[keep] if keep else np.zeros((0, 384), np.float32),
        )


def _fit(x: np.ndarray, y: np.ndarray, w: np.ndarray, calibrate: bool) -> Any:
    from sklearn.calibration import CalibratedClassifierCV
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold

    base = LogisticRegression(C=C3, max_iter=3000, random_state=SEED)
    # Shuffled folds: the training rows are ordered by source, and unshuffled folds (v2 used
    # cv=3) can leave a fold without a source and fit an INVERTED sigmoid (measured: held-out
    # HateCheck AUROC 0.17 instead of 0.83 with this configuration).
    cv = StratifiedKFold(3, shuffle=True, random_state=SEED)
    model = CalibratedClassifierCV(base, method="sigmoid", cv=cv, ensemble=False) if calibrate else base
    return model.fit(x, y, sample_weight=_balanced(y, w))


class _Model:
    """A fitted head plus the cue setting, scoring texts with or without quote framing."""

    def __init__(self, parts: list[_Set], cues: bool, calibrate: bool) -> None:
        self.cues = COUNTER_CUES if cues else ()
        texts = [t for p in parts for t in p.texts]
        x = toxicity_features(texts, np.vstack([p.emb for p in parts]), cues=self.cues)
        y = np.concatenate([p.y for p in parts])
        self.clf = _fit(x, y, np.concatenate([p.w for p in parts]), calibrate)

    def predict(self, texts: list[str], emb: np.ndarray) -> np.ndarray:
        return np.asarray(self.clf.predict_proba(toxicity_features(texts, emb, cues=self.cues))[:, 1])

    def score(
        self,
        texts: list[str],
        emb: np.ndarray,
        frames: _Frames,
        gate: float | None,
        negs: _Frames | None = None,
    ) -> np.ndarray:
        """Scores; with ``gate`` not None, quoting texts at or above it keep min(full, frame),
        then (with ``negs``) negated-negative statements still at or above it keep
        min(score, 1 - affirmed)."""
        p = self.predict(texts, emb)
        if gate is None:
            return p
        for alt, combine in ((frames, combine_quote_scores), (negs, _combine_negation)):
            if alt is None or not len(alt.idx):
                continue
            sel = alt.idx[p[alt.idx] >= gate]
            if len(sel):
                keep = np.isin(alt.idx, sel)
                fp = self.predict([t for t, k in zip(alt.texts, keep, strict=True) if k], alt.emb[keep])
                p[sel] = combine(p[sel], fp)
        return p


def _combine_negation(full: np.ndarray, affirmed: np.ndarray) -> np.ndarray:
    return np.minimum(full, 1.0 - affirmed)


def _part(s: _Set, idx: np.ndarray) -> _Set:
    out = object.__new__(_Set)
    out.texts, out.emb, out.y, out.w = [s.texts[i] for i in idx], s.emb[idx], s.y[idx], s.w[idx]
    out.tag, out.group = [s.tag[i] for i in idx], [s.group[i] for i in idx]
    return out


def _labeled(name: str, texts: list[str], y: list[int], weight: float) -> _Set:
    ds = LabeledTexts(name, texts, np.asarray(y, dtype=np.int64), weight=np.full(len(texts), weight))
    return _Set(ds, embed_cached(name, texts))


def _grouped_oof(
    model_parts: Callable[[np.ndarray], list[_Set]],
    hc: _Set,
    groups: list[str],
    folds: int,
    cues: bool,
    benign: _Set | None = None,
) -> tuple[list[tuple[_Model, np.ndarray]], np.ndarray]:
    """Calibrated models fitted with ``groups`` of HateCheck held out together: (model, held-out
    HateCheck rows) per fold, and with ``benign`` (folded too, random thirds) its out-of-fold
    plain scores."""
    from sklearn.model_selection import GroupKFold

    mask = np.asarray([t != "profanity_nh" for t in hc.tag])
    n_b = len(benign.y) if benign is not None else 0
    b_fold = np.random.default_rng(SEED).integers(0, folds, n_b)
    b_oof = np.zeros(n_b)
    out = []
    for k, (tr, te) in enumerate(GroupKFold(folds).split(hc.emb, hc.y, groups=groups)):
        parts = model_parts(tr[mask[tr]])
        if benign is not None:
            parts.append(_part(benign, np.flatnonzero(b_fold != k)))
        m = _Model(parts, cues, calibrate=True)
        out.append((m, te))
        if benign is not None:
            b_te = np.flatnonzero(b_fold == k)
            b_oof[b_te] = m.predict([benign.texts[i] for i in b_te], benign.emb[b_te])
    return out, b_oof


def _oof_scores(
    fold_models: list[tuple[_Model, np.ndarray]],
    hc: _Set,
    frames: _Frames,
    gate: float | None,
    negs: _Frames | None = None,
) -> np.ndarray:
    oof = np.zeros(len(hc.y))
    for m, te in fold_models:
        sub_negs = negs.sub(te) if negs is not None else None
        oof[te] = m.score([hc.texts[i] for i in te], hc.emb[te], frames.sub(te), gate, sub_negs)
    return oof


def train(
    data_dir: str | None = None,
    out_dir: str | None = None,
    version: int = 3,
    augment: bool | None = None,
    variants: tuple[tuple[bool, bool], ...] = V3_VARIANTS,
    echo: Callable[[str], None] = print,
    negation: bool | None = None,
) -> dict[str, Any]:
    """Evaluate the ``variants``, fit the best on everything, write ``toxicity-v<version>``
    and return the card. v3 always trains on the hand-written examples (their held-out halves
    are part of the report): ``augment=False`` raises :class:`ConfigError`. ``negation``
    (default: ``version >= 4``) adds negation re-scoring to the variants with quote framing."""
    from lightkeeper.demo._scenario import TOXIC_ANSWER, TOXIC_PROMPTS

    if augment is False:
        raise ConfigError("toxicity-v3 always uses its hand-written examples; --no-augment needs --version 2")
    if negation is None:
        negation = version >= 4
    set_seeds()
    root = data_root(data_dir)
    dav_ds, hc_ds = load_davidson(root), load_hatecheck(root)
    dav = _Set(dav_ds, embed_cached(dav_ds.name, dav_ds.texts))
    off = np.asarray([t == "offensive" for t in dav.tag])
    dav.w = dav.w * DAVIDSON_WEIGHT * np.where(off, OFFENSIVE_FACTOR, 1.0)
    hc = _Set(hc_ds, embed_cached(hc_ds.name, hc_ds.texts))
    c_tr, c_ho = aug.split_even_odd(aug.CLEAN_COUNTER + aug.CLEAN_EVERYDAY + aug.CLEAN_DIRECT)
    t_tr, t_ho = aug.split_even_odd(aug.TOXIC_EXTRA + aug.TOXIC_EVERYDAY + aug.TOXIC_DIRECT)
    (c3_tr, t3_tr), (c3_ho, t3_ho) = v3_split()
    extra = [
        _labeled("tox_aug_train", c_tr + t_tr, [0] * len(c_tr) + [1] * len(t_tr), AUG_WEIGHT),
        _labeled("tox_v3_train", c3_tr + t3_tr, [0] * len(c3_tr) + [1] * len(t3_tr), AUG_WEIGHT),
    ]
    held = {
        "handwritten_v2": _labeled("tox_aug_heldout", c_ho + t_ho, [0] * len(c_ho) + [1] * len(t_ho), 1.0),
        "handwritten_v3": _labeled("tox_v3_heldout", c3_ho + t3_ho, [0] * len(c3_ho) + [1] * len(t3_ho), 1.0),
        "demo_abuse": _labeled("tox_demo_abuse", [*TOXIC_PROMPTS, TOXIC_ANSWER], [1] * 4, 1.0),
    }
    benign, benign_ho, benign_sources = _benign_sets(root)
    fr = {
        "dav": _Frames.build("davidson", dav.texts),
        "hc": _Frames.build("hatecheck", hc.texts),
        "benign": _Frames.build("benign_train", benign.texts),
        **{k: _Frames.build(f"heldout_{k}", v.texts) for k, v in held.items()},
        **{k: _Frames.build(f"benign_ho_{k}", v[0]) for k, v in benign_ho.items()},
    }
    fn: dict[str, _Frames] = {}
    if negation:
        fn = {
            "dav": _Frames.build("davidson", dav.texts, "neg"),
            "hc": _Frames.build("hatecheck", hc.texts, "neg"),
            **{k: _Frames.build(f"heldout_{k}", v.texts, "neg") for k, v in held.items()},
            **{k: _Frames.build(f"benign_ho_{k}", v[0], "neg") for k, v in benign_ho.items()},
        }
    hc_mask = np.flatnonzero([t != "profanity_nh" for t in hc.tag])
    hateful = hc.y == 1
    echo(
        f"toxicity v3: davidson {len(dav.y)}, hatecheck {len(hc.y)}, hand-written train "
        f"{sum(len(e.y) for e in extra)}, clean texts {len(benign.y)}; quote frames: "
        f"davidson {len(fr['dav'].idx)}, hatecheck {len(fr['hc'].idx)}, clean {len(fr['benign'].idx)}"
        + (f"; negated-negative: davidson {len(fn['dav'].idx)}, hatecheck {len(fn['hc'].idx)}" if fn else "")
    )
    results: dict[str, dict[str, Any]] = {}
    fitted: dict[bool, dict[str, Any]] = {}
    for cues, quotes in variants:
        neg_here = negation and quotes
        name = "lr:emb" + ("+cues" if cues else "") + ("+quotes" if quotes else "")
        name += ("+negation" if neg_here else "") + "+aug3+benign"
        echo(f"  variant {name}:")
        if cues not in fitted:
            fitted[cues] = _fit_all(dav, hc, extra, benign, fr, fn, hc_mask, cues, echo)
        f = fitted[cues]
        thr = f["threshold"]
        gate = max(0.0, thr - GATE_BELOW_THRESHOLD) if quotes else None
        sfx = "q" if quotes else ""
        res: dict[str, Any] = {
            "cues": cues,
            "quotes": quotes,
            "negation": neg_here,
            "threshold": round(thr, 4),
        }
        res["quote_gate"] = None if gate is None else round(gate, 4)
        res["negation_gate"] = res["quote_gate"] if neg_here else None
        p = f["d2h" + sfx]
        res["davidson_to_hatecheck"] = binary_metrics(hc.y, p)
        res["davidson_to_hatecheck_by_functionality"] = _per_functionality(hc.tag, hc.y, p)
        res["hatecheck_to_davidson"] = binary_metrics(dav.y, f["h2d" + sfx])
        oof = f["tho" + sfx]
        res["hatecheck_templates_heldout"] = binary_metrics(hc.y, oof, thr)
        res["hatecheck_templates_heldout_by_functionality"] = _per_functionality(hc.tag, hc.y, oof, thr)
        res["hatecheck_hateful_recall_at_threshold"] = round(float(np.mean(oof[hateful] >= thr)), 4)
        res["hatecheck_nonhateful_fpr_at_threshold"] = round(float(np.mean(oof[~hateful] >= thr)), 4)
        res["hatecheck_templates_heldout_nh_auroc"] = _nh_auroc(hc, oof)
        fho = f["fho" + sfx]
        res["hatecheck_functionalities_heldout"] = binary_metrics(hc.y, fho, thr)
        res["hatecheck_functionalities_heldout_by_functionality"] = _per_functionality(hc.tag, hc.y, fho, thr)
        final: _Model = f["final"]
        for k, s in held.items():
            ps = final.score(s.texts, s.emb, fr[k], gate, fn.get(k) if neg_here else None)
            res[k] = {**binary_metrics(s.y, ps, thr), "scores": [round(float(v), 4) for v in ps]}
            if k == "demo_abuse":
                res[k].pop("auroc", None)
            else:
                res[k].pop("scores")
        res["heldout_benign_fpr"] = {
            k: {
                "n": len(v[0]),
                "fpr": round(
                    float(
                        np.mean(final.score(v[0], v[1], fr[k], gate, fn.get(k) if neg_here else None) >= thr)
                    ),
                    4,
                ),
            }
            for k, v in benign_ho.items()
        }
        res["selection_score"] = round(
            (
                res["davidson_to_hatecheck"]["auroc"]
                + res["hatecheck_to_davidson"]["auroc"]
                + res["hatecheck_templates_heldout"]["auroc"]
            )
            / 3,
            4,
        )
        _echo_variant(res, echo)
        results[name] = res
    best = max(results, key=lambda k: results[k]["selection_score"])
    chosen = results[best]
    echo(
        f"  chosen variant: {best} (selection score {chosen['selection_score']}, "
        f"threshold {chosen['threshold']})"
    )
    final = fitted[chosen["cues"]]["final"]
    card = {
        "metrics": {"chosen": best, "variants": results},
        "params": {
            "model": "lr",
            "lr_C": C3,
            "davidson_weight": DAVIDSON_WEIGHT,
            "davidson_offensive_factor": OFFENSIVE_FACTOR,
            "aug_weight": AUG_WEIGHT,
            "benign_weight": 1.0,
            "target_fpr_benign_oof": 0.01,
            "quote_gate": "threshold - 0.1 (quote framing only lowers scores)",
            "negation_gate": "the quote gate (negation re-scoring only lowers scores)" if negation else None,
            "seed": SEED,
            "calibration": "sigmoid on 3-fold CV scores, ensemble=False",
        },
        "threshold": chosen["threshold"],
        "features": ["embedding[384]"] + ([f"cues {list(COUNTER_CUES)}"] if chosen["cues"] else []),
        "training_data": {
            "files": {**dav_ds.sources, **hc_ds.sources, **benign_sources},
            "n": int(sum(len(p.y) for p in fitted[chosen["cues"]]["parts"])),
            "excluded": "hatecheck profanity_nh; held-out third of each clean source (by group); odd "
            "hand-written items",
        },
    }
    artifact: dict[str, Any] = {
        "clf": final.clf,
        "threshold": chosen["threshold"],
        "tfidf": None,
        "lexicon": False,
        "cues": list(final.cues),
        "quote_gate": chosen["quote_gate"],
        "negation_gate": chosen["negation_gate"],
    }
    mp, cp = write_artifact("toxicity", version, artifact, card, Path(out_dir) if out_dir else None)
    echo(f"  wrote {mp} and {cp}")
    return card


def _fit_all(
    dav: _Set,
    hc: _Set,
    extra: list[_Set],
    benign: _Set,
    fr: dict[str, _Frames],
    fn: dict[str, _Frames],
    hc_mask: np.ndarray,
    cues: bool,
    echo: Callable[[str], None],
) -> dict[str, Any]:
    """All fits of one cue setting; scores with (suffix ``q``: quote framing, and negation
    re-scoring when ``fn`` holds the affirmed forms) and without."""
    out: dict[str, Any] = {}
    every = np.arange(len(dav.y))
    # Template-held-out CV first: it fixes the threshold (on plain benign OOF scores; quote
    # framing only lowers scores, so the false-positive bound holds for both).
    parts_fn = lambda tr: [_part(dav, every), _part(hc, tr), *extra]  # noqa: E731
    folds, b_oof = _grouped_oof(parts_fn, hc, hc.group, 3, cues, benign)
    thr = min(0.9, max(0.3, fpr_threshold(b_oof, 0.01)))
    gate = max(0.0, thr - GATE_BELOW_THRESHOLD)
    out["threshold"] = thr
    n_hc, n_dav = fn.get("hc"), fn.get("dav")
    out["tho"] = _oof_scores(folds, hc, fr["hc"], None)
    out["thoq"] = _oof_scores(folds, hc, fr["hc"], gate, n_hc)
    folds, _ = _grouped_oof(parts_fn, hc, list(hc.tag), 5, cues)
    out["fho"], out["fhoq"] = (
        _oof_scores(folds, hc, fr["hc"], None),
        _oof_scores(folds, hc, fr["hc"], gate, n_hc),
    )
    m = _Model([dav, *extra, benign], cues, calibrate=False)
    out["d2h"], out["d2hq"] = m.predict(hc.texts, hc.emb), m.score(hc.texts, hc.emb, fr["hc"], gate, n_hc)
    m = _Model([_part(hc, hc_mask), *extra, benign], cues, calibrate=False)
    out["h2d"] = m.predict(dav.texts, dav.emb)
    out["h2dq"] = m.score(dav.texts, dav.emb, fr["dav"], gate, n_dav)
    out["parts"] = [dav, _part(hc, hc_mask), *extra, benign]
    out["final"] = _Model(out["parts"], cues, calibrate=True)
    echo(f"    fitted (cues={cues}), threshold {thr:.3f}")
    return out


def _nh_auroc(hc: _Set, p: np.ndarray) -> dict[str, float]:
    """Per non-hateful functionality: AUROC of all hateful cases against its cases (ranking,
    independent of the threshold)."""
    from sklearn.metrics import roc_auc_score

    tags = np.asarray(hc.tag)
    pos = p[hc.y == 1]
    out = {}
    for f in sorted({t for t in hc.tag if t.endswith("_nh")}):
        neg = p[tags == f]
        y = np.r_[np.ones(len(pos)), np.zeros(len(neg))]
        out[f] = round(float(roc_auc_score(y, np.r_[pos, neg])), 4)
    return out


def _echo_variant(res: dict[str, Any], echo: Callable[[str], None]) -> None:
    echo(
        f"    davidson->hatecheck AUROC {res['davidson_to_hatecheck']['auroc']:.4f} | "
        f"hatecheck->davidson AUROC {res['hatecheck_to_davidson']['auroc']:.4f} | "
        f"templates held out AUROC {res['hatecheck_templates_heldout']['auroc']:.4f} | "
        f"functionalities held out AUROC {res['hatecheck_functionalities_heldout']['auroc']:.4f}"
    )
    echo(
        f"    threshold {res['threshold']}: HateCheck hateful recall "
        f"{res['hatecheck_hateful_recall_at_threshold']}, "
        f"non-hateful FPR {res['hatecheck_nonhateful_fpr_at_threshold']}"
    )
    nh = {k: v for k, v in res["hatecheck_templates_heldout_by_functionality"].items() if k.endswith("_nh")}
    echo(f"    non-hateful accuracy (templates held out): {nh}")
    echo(
        "    hateful-vs-functionality AUROC (templates held out): "
        f"{res['hatecheck_templates_heldout_nh_auroc']}"
    )
    echo(f"    held-out benign FPR: { {n: v['fpr'] for n, v in res['heldout_benign_fpr'].items()} }")
    for k in ("handwritten_v2", "handwritten_v3"):
        r = res[k]
        echo(f"    {k} held out: AUROC {r['auroc']}, recall {r['recall']}, precision {r['precision']}")
    echo(f"    demo abuse scores: {res['demo_abuse']['scores']}")
