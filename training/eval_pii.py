"""Measure :mod:`lightkeeper.text.pii` against labeled PII data (presidio-research synthetic format).

The data is a JSON list of records ``{"full_text": str, "spans": [{"entity_type", "start_position",
"end_position", ...}]}`` with presidio entity names, mapped here to :data:`lightkeeper.text.pii.PII_TYPES`.

Matching is by character overlap, per type:

* recall: a gold span (of a mapped type) counts as found when a predicted span of the same type
  overlaps it;
* precision: a predicted span counts as correct when it overlaps a gold span of a type that maps
  to it (ADDRESS also accepts presidio's GPE / ZIP_CODE parts of an address, PERSON accepts
  nothing else). Presidio types we do not detect (ORGANIZATION, DATE_TIME, TITLE, AGE, NRP,
  DOMAIN_NAME) are ignored for recall, but a prediction overlapping only them is a false positive.

Run: ``python -m training.eval_pii [--data PATH] [--json OUT]``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections import defaultdict
from pathlib import Path
from typing import Any

from lightkeeper.text.pii import detect

DEFAULT_DATA = (
    Path(os.environ.get("LIGHTKEEPER_DEV_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))
    / "pii/presidio_dev/synth_dataset_v2_first750.json"
)

# presidio entity type -> our type (recall target)
GOLD_MAP: dict[str, str] = {
    "PERSON": "PERSON",
    "STREET_ADDRESS": "ADDRESS",
    "CREDIT_CARD": "CREDIT_CARD",
    "PHONE_NUMBER": "PHONE",
    "EMAIL_ADDRESS": "EMAIL",
    "IBAN_CODE": "IBAN",
    "US_SSN": "NATIONAL_ID",
    "US_DRIVER_LICENSE": "NATIONAL_ID",
    "IP_ADDRESS": "IP_ADDRESS",
}
# our type -> presidio types a prediction of it may overlap and still be right (precision)
ACCEPT: dict[str, set[str]] = defaultdict(set)
for _p, _o in GOLD_MAP.items():
    ACCEPT[_o].add(_p)
ACCEPT["ADDRESS"] |= {"GPE", "ZIP_CODE"}
ACCEPT["DATE_OF_BIRTH"] |= {"DATE_TIME"}


def _overlaps(a: tuple[int, int], b: tuple[int, int]) -> bool:
    return a[0] < b[1] and b[0] < a[1]


def evaluate(records: list[dict[str, Any]]) -> dict[str, dict[str, float]]:
    """Per-type precision / recall / f1 and counts (tp_gold, gold, tp_pred, pred) over ``records``."""
    gold_n: dict[str, int] = defaultdict(int)
    gold_hit: dict[str, int] = defaultdict(int)
    pred_n: dict[str, int] = defaultdict(int)
    pred_ok: dict[str, int] = defaultdict(int)
    for rec in records:
        text = rec["full_text"]
        gold = [(s["entity_type"], (s["start_position"], s["end_position"])) for s in rec["spans"]]
        preds = detect(text)
        for ptype, span in gold:
            ours = GOLD_MAP.get(ptype)
            if ours is None:
                continue
            gold_n[ours] += 1
            if any(p.type == ours and _overlaps((p.start, p.end), span) for p in preds):
                gold_hit[ours] += 1
        for p in preds:
            pred_n[p.type] += 1
            if any(g in ACCEPT[p.type] and _overlaps((p.start, p.end), span) for g, span in gold):
                pred_ok[p.type] += 1
    out: dict[str, dict[str, float]] = {}
    for t in sorted(set(gold_n) | set(pred_n)):
        prec = pred_ok[t] / pred_n[t] if pred_n[t] else float("nan")
        rec_ = gold_hit[t] / gold_n[t] if gold_n[t] else float("nan")
        f1 = 2 * prec * rec_ / (prec + rec_) if pred_n[t] and gold_n[t] and prec + rec_ > 0 else float("nan")
        out[t] = {
            "precision": prec,
            "recall": rec_,
            "f1": f1,
            "gold": gold_n[t],
            "found": gold_hit[t],
            "predicted": pred_n[t],
            "correct": pred_ok[t],
        }
    tot_g, tot_h = sum(gold_n.values()), sum(gold_hit.values())
    tot_p, tot_o = sum(pred_n.values()), sum(pred_ok.values())
    out["ALL"] = {
        "precision": tot_o / max(tot_p, 1),
        "recall": tot_h / max(tot_g, 1),
        "gold": tot_g,
        "found": tot_h,
        "predicted": tot_p,
        "correct": tot_o,
        "f1": 2 * tot_o * tot_h / max(tot_o * tot_g + tot_h * tot_p, 1),
    }
    return out


def format_table(result: dict[str, dict[str, float]]) -> str:
    """A fixed-width table of :func:`evaluate`'s result."""
    lines = [f"{'type':<14}{'prec':>7}{'recall':>8}{'f1':>7}{'gold':>7}{'pred':>7}"]
    for t, m in result.items():
        lines.append(
            f"{t:<14}{m['precision']:>7.3f}{m['recall']:>8.3f}{m['f1']:>7.3f}"
            f"{int(m['gold']):>7}{int(m['predicted']):>7}"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """CLI entry: print the per-type table; ``--json`` also writes it as JSON."""
    ap = argparse.ArgumentParser(prog="eval_pii", description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--json", type=Path, default=None, help="write the metrics here")
    args = ap.parse_args(argv)
    try:
        records = json.loads(args.data.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        print(f"cannot read {args.data}: {exc}", file=sys.stderr)
        return 2
    result = evaluate(records)
    print(format_table(result))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
