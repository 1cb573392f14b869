"""Throughput of lightkeeper.text.pii.detect / redact on realistic texts.

Texts: the presidio dev set (short, PII-dense) and synthetic LLM-like prompts of ~2 KB with a
few PII values mixed in. Prints texts/s and MB/s per corpus.

Run: ``nice -n 10 python bench/pii_throughput.py [--seconds 3]``
"""

from __future__ import annotations

import argparse
import json
import os
import random
import time
from collections.abc import Callable
from pathlib import Path

from lightkeeper.text import pii

DATA = Path(os.environ.get("LIGHTKEEPER_DEV_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))
PRESIDIO = DATA / "pii" / "presidio_dev" / "synth_dataset_v2_first750.json"

_FILLER = (
    "You are a helpful assistant. Summarize the following support ticket and propose next steps. "
    "The customer reports that the dashboard takes a long time to load after the last release, "
    "especially when filtering by region and date range. They attached logs from their browser. "
)
_PII = [
    "Contact: jane.doe@example.com",
    "Phone +1 (415) 555-2671",
    "card 4111 1111 1111 1111",
    "server 10.20.30.40",
    "api_key=Zx8fQ2mR9pL4vK7sQ1",
    "Dear Mr. John Smith",
    "SSN 123-45-6789",
    "IBAN GB82 WEST 1234 5698 7654 32",
    "123 Main Street, Apt 4B",
]


def synthetic_prompts(n: int, seed: int = 0) -> list[str]:
    """``n`` ~2 KB prompts, each with 0..3 PII values at random places."""
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        parts = [_FILLER] * 8
        for _ in range(rng.randint(0, 3)):
            parts.insert(rng.randint(0, len(parts)), rng.choice(_PII) + ". ")
        out.append("".join(parts))
    return out


def measure(fn: Callable[[str], object], texts: list[str], seconds: float) -> tuple[float, float]:
    """(texts per second, MB per second) of ``fn`` over ``texts``, repeated for ~``seconds``."""
    n = chars = 0
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        for t in texts:
            fn(t)
            n += 1
            chars += len(t)
    dt = time.perf_counter() - t0
    return n / dt, chars / dt / 1e6


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=3.0)
    args = ap.parse_args()
    corpora = {"synthetic_prompts_2KB": synthetic_prompts(200)}
    if PRESIDIO.exists():
        corpora["presidio_dev"] = [r["full_text"] for r in json.loads(PRESIDIO.read_text(encoding="utf-8"))]
    for name, texts in corpora.items():
        avg = sum(map(len, texts)) / len(texts)
        for fn_name, fn in (("detect", pii.detect), ("redact", pii.redact)):
            tps, mbs = measure(fn, texts, args.seconds)
            print(f"{name:<24} avg {avg:7.0f} chars  {fn_name:<7} {tps:10.0f} texts/s  {mbs:6.2f} MB/s")


if __name__ == "__main__":
    main()
