"""``lightkeeper score <detector>`` (batch scoring of JSON lines) and ``lightkeeper train
<detector>`` (rebuild a model artifact from the shared development data).

``score`` streams: it reads up to ``--batch-size`` lines, scores them in one batch, writes each
input line back (all its fields kept) with ``score`` (0-1), ``flagged`` and ``details`` added,
and flushes. A line that is not a JSON object or lacks a required field gets an ``error`` field
instead of a score; the other lines go on. Required fields: toxicity/injection/pii ``text``;
hallucination ``context`` (string or list of strings) and ``response``, optional ``question``.
An injection line may carry ``context`` (documents / tool results) instead of ``text``: the
documents are scored for planted instructions. ``--explain`` (hallucination) adds every
response sentence with its score and closest context sentence to ``details``.
"""

from __future__ import annotations

import argparse
import inspect
import logging
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO, Any

log = logging.getLogger(__name__)

DETECTORS = ("toxicity", "hallucination", "injection", "pii")
TRAINABLE = {
    "toxicity": "training.train_toxicity",
    "injection": "training.train_injection",
    "hallucination": "training.train_hallucination",
}


def _dumps(obj: dict[str, Any]) -> str:
    import orjson

    return orjson.dumps(obj, option=orjson.OPT_SERIALIZE_NUMPY, default=str).decode()


def _parse(detector: str, lineno: int, raw: str) -> tuple[dict[str, Any], Any]:
    """(output record, ScoreInput or None). On problems the record carries ``error``."""
    import orjson

    from lightkeeper.processors.scoring.base import ScoreInput

    try:
        obj = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        return {"line": lineno, "raw": raw.rstrip("\n")[:2000], "error": f"invalid JSON: {exc}"}, None
    if not isinstance(obj, dict):
        return {"line": lineno, "input": obj, "error": "expected a JSON object"}, None
    if detector == "hallucination":
        ctx, resp, q = obj.get("context"), obj.get("response"), obj.get("question")
        if isinstance(ctx, str):
            ctx = [ctx]
        problems = []
        if not (isinstance(ctx, list) and ctx and all(isinstance(c, str) for c in ctx)):
            problems.append("missing or invalid field 'context' (string or list of strings)")
        if not isinstance(resp, str) or not resp.strip():
            problems.append("missing or empty field 'response' (string)")
        if q is not None and not isinstance(q, str):
            problems.append("field 'question' must be a string")
        if problems or not isinstance(resp, str):
            return {**obj, "error": "; ".join(problems)}, None
        return obj, ScoreInput(text=resp, context=ctx, question=q)
    if detector == "injection" and "context" in obj and "text" not in obj:
        ctx = obj["context"]
        ctx = [ctx] if isinstance(ctx, str) else ctx
        if not (isinstance(ctx, list) and ctx and all(isinstance(c, str) for c in ctx)):
            return {**obj, "error": "field 'context' must be a string or a list of strings"}, None
        return obj, ScoreInput(context=ctx)
    text = obj.get("text")
    if not isinstance(text, str) or not text.strip():
        return {**obj, "error": "missing or empty field 'text' (string)"}, None
    return obj, ScoreInput(text=text)


def _batches(lines: Iterable[str], size: int) -> Iterator[list[tuple[int, str]]]:
    batch: list[tuple[int, str]] = []
    for lineno, raw in enumerate(lines, start=1):
        if not raw.strip():
            continue
        batch.append((lineno, raw))
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def _score_safely(scorer: Any, inputs: list[Any]) -> list[Any]:
    """Score a batch; if the scorer raises, fall back to one item at a time so a single bad
    item only costs its own line."""
    from lightkeeper.processors.scoring.base import ScoreResult

    try:
        results = list(scorer.score_batch(inputs))
        if len(results) == len(inputs):
            return results
        log.warning("scorer returned %d results for %d items", len(results), len(inputs))
    except Exception:
        log.exception("batch scoring failed; retrying item by item")
    out = []
    for it in inputs:
        try:
            out.append(scorer.score_batch([it])[0])
        except Exception as exc:
            out.append(ScoreResult(None, {"error": f"scoring failed: {exc}"}))
    return out


def score_stream(
    detector: str, lines: Iterable[str], out: IO[str], *, batch_size: int = 64, scorer: Any = None
) -> tuple[int, int]:
    """Score JSON ``lines`` with ``detector`` and write JSON lines to ``out``.
    Returns (lines scored, lines with an error)."""
    if scorer is None:
        from lightkeeper.processors.scoring.registry import get_scorer

        scorer = get_scorer(detector)
    n_ok = n_err = 0
    for batch in _batches(lines, max(1, batch_size)):
        parsed = [_parse(detector, lineno, raw) for lineno, raw in batch]
        todo = [i for i, (_, inp) in enumerate(parsed) if inp is not None]
        results = _score_safely(scorer, [parsed[i][1] for i in todo]) if todo else []
        by_index = dict(zip(todo, results, strict=True))
        for i, (rec, _) in enumerate(parsed):
            res = by_index.get(i)
            if res is not None:
                rec = {**rec, "score": res.score, "flagged": bool(res.flagged), "details": res.details}
                if res.score is None and "error" in res.details:
                    rec["error"] = res.details["error"]
            if "error" in rec:
                n_err += 1
            else:
                n_ok += 1
            out.write(_dumps(rec) + "\n")
        out.flush()
    return n_ok, n_err


def run_score(args: argparse.Namespace) -> int:
    from contextlib import ExitStack

    from lightkeeper.errors import ConfigError
    from lightkeeper.processors.scoring.registry import SCORERS, get_scorer

    if args.artifact:
        import importlib

        module_name, _, cls_name = SCORERS[args.detector].partition(":")
        cls = getattr(importlib.import_module(module_name), cls_name)
        if "artifact_path" not in inspect.signature(cls).parameters:
            raise ConfigError(f"the {args.detector} scorer does not load an artifact; drop --artifact")
        scorer = cls(artifact_path=args.artifact)
    else:
        scorer = get_scorer(args.detector)
    if getattr(args, "explain", False):
        if not hasattr(scorer, "explain"):
            raise ConfigError(f"--explain is not available for {args.detector}")
        if scorer is get_scorer(args.detector):  # the shared instance: explain a copy
            import copy

            scorer = copy.copy(scorer)
        scorer.explain = True
    if not args.input or args.input == "-":
        reconfigure = getattr(sys.stdin, "reconfigure", None)
        if reconfigure is not None:
            reconfigure(errors="replace")  # a line of bad bytes must not stop the stream
    with ExitStack() as stack:
        try:
            src: IO[str] = (
                stack.enter_context(open(args.input, encoding="utf-8", errors="replace"))
                if args.input and args.input != "-"
                else sys.stdin
            )
            dst: IO[str] = (
                stack.enter_context(open(args.output, "w", encoding="utf-8"))
                if args.output and args.output != "-"
                else sys.stdout
            )
        except OSError as exc:
            raise ConfigError(f"cannot open {exc.filename}: {exc.strerror}") from exc
        n_ok, n_err = score_stream(args.detector, src, dst, batch_size=args.batch_size, scorer=scorer)
    print(f"scored {n_ok} lines, {n_err} with errors", file=sys.stderr)
    return 0


def run_train(args: argparse.Namespace) -> int:
    import importlib

    from lightkeeper.errors import ConfigError

    if args.detector == "pii":
        print("pii is rule-based (lightkeeper/text/pii.py) and has no trained model; nothing to do.")
        return 0
    # training/ is not installed with the package: it runs from a source checkout.
    checkout = Path.cwd()
    if (checkout / "training" / "__init__.py").is_file() and str(checkout) not in sys.path:
        sys.path.insert(0, str(checkout))
    try:
        module = importlib.import_module(TRAINABLE[args.detector])
    except ImportError as exc:
        raise ConfigError(
            f"training for {args.detector} is not available: {exc}. Training code is not installed "
            "with the package; run `make train-" + args.detector + "` from a source checkout."
        ) from exc
    train = module.train
    kwargs: dict[str, Any] = {"data_dir": args.data_dir, "out_dir": args.out_dir}
    if args.version is not None:
        kwargs["version"] = args.version
    accepted = inspect.signature(train).parameters
    has_var_kw = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in accepted.values())
    kwargs = {k: v for k, v in kwargs.items() if has_var_kw or k in accepted}
    train(**kwargs)
    return 0


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "score",
        help="score JSON lines with a quality detector",
        description="Read JSON lines (stdin or --input), write each back with score, flagged and "
        "details. Fields: toxicity/injection/pii: text; injection: text, or context (documents "
        "scored for planted instructions); hallucination: context, response, optional question.",
    )
    p.add_argument("detector", choices=DETECTORS)
    p.add_argument("--input", "-i", help="JSON lines file (default: stdin)")
    p.add_argument("--output", "-o", help="output file (default: stdout)")
    p.add_argument("--batch-size", type=int, default=64, help="lines scored together (default 64)")
    p.add_argument("--artifact", help="model artifact path (default: newest shipped version)")
    p.add_argument(
        "--explain",
        action="store_true",
        help="hallucination: add every response sentence with its score and closest context sentence",
    )
    p.set_defaults(handler=run_score)

    t = subparsers.add_parser(
        "train",
        help="train a detector from the shared development data",
        description="Rebuild a detector's model from ../shared/data (source checkout only: training/ "
        "is not installed), print its leave-one-source-out table and write "
        "processors/artifacts/<detector>-v<N>.joblib + .json card.",
    )
    t.add_argument("detector", choices=DETECTORS)
    t.add_argument("--data-dir", help="shared data folder (default: ../shared/data)")
    t.add_argument("--out-dir", help="artifact folder (default: processors/artifacts)")
    t.add_argument(
        "--version", type=int, default=None, help="artifact version number (default: the shipped one)"
    )
    t.set_defaults(handler=run_train)
