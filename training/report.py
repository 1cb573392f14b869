"""Print the LOSO tables of the shipped model cards as Markdown (docs/detectors.md):
``python -m training.report``."""

from __future__ import annotations

import json
import math
from pathlib import Path

from training.common import ARTIFACT_DIR

__all__ = ["card_table", "main"]


def _fmt(value: object) -> str:
    if isinstance(value, float):
        return "n/a" if math.isnan(value) else f"{value:.3f}"
    return str(value)


def card_table(card: dict[str, object]) -> str:
    """The card's LOSO rows as a Markdown table."""
    rows = card["loso"]
    assert isinstance(rows, list)
    extra = [k for k in rows[0] if k not in ("source", "model_auroc", "baseline_auroc", "n")]
    head = [
        "held-out source",
        "model AUROC",
        "baseline AUROC",
        "model - baseline",
        *[k.replace("_", " ") for k in extra],
    ]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        diff = r["model_auroc"] - r["baseline_auroc"]
        cells = [r["source"], _fmt(r["model_auroc"]), _fmt(r["baseline_auroc"]), _fmt(diff)]
        cells += [_fmt(r.get(k, float("nan"))) for k in extra]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    for detector in ("toxicity", "injection", "hallucination"):
        cards = sorted(
            ARTIFACT_DIR.glob(f"{detector}-v*.json"), key=lambda p: int(p.stem.rsplit("-v", 1)[-1])
        )
        if not cards:
            continue
        card = json.loads(Path(cards[-1]).read_text())
        if "loso" not in card:
            continue
        print(f"## {card['version']} (head: {card['head']}, threshold {card['threshold']})\n")
        print(card_table(card))
        print(
            "\nLOSO mean AUROC per candidate: "
            + ", ".join(f"{k} {v:.3f}" for k, v in card["loso_mean_auroc"].items())
        )
        print()


if __name__ == "__main__":
    main()
