"""The encoder on ONNX Runtime against the shipped torch graph (issue 21's "consider ONNX
Runtime (int8) for the encoder if it beats torch at equal vectors").

all-MiniLM-L6-v2 is exported to ONNX from the package's fp32 weights (the module
`embedding._trace` traces), then quantized with ONNX Runtime's dynamic quantization (int8
weights, per channel, as the shipped torch graph). Every variant runs one thread in the
calling thread, one text per pass, on fresh 1,000-character texts (`local_checks.Texts`),
quiet and beside two spinning processes (one per core) in alternating blocks
(`local_checks.compare`); the same mean pooling and unit length as `TorchBackend`. Prints
wall medians and each variant's cosine to the fp32 vectors, and saves
bench/results/onnx_encoder.json.

onnxruntime and onnx are not dependencies of the project; install them beside it first:

    python3 -m pip install --target /tmp/ortlib onnxruntime==1.31.1 onnx==1.23.2
    rm -rf /tmp/ortlib/numpy* /tmp/ortlib/typing_extensions* /tmp/ortlib/packaging*
    PYTHONPATH=/tmp/ortlib .venv/bin/python bench/onnx_encoder.py [--runs 80]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.local_checks import Texts, compare, timed  # noqa: E402
from supervisor.detectors import embedding  # noqa: E402

Forward = Callable[[Sequence[str]], np.ndarray]


def export(folder: Path) -> dict[str, Path]:
    """fp32 ONNX from the eager fp32 model, and its int8 (per channel) quantization (an
    export of the traced graph keeps its weights in a form the quantizer passes over)."""
    import torch
    from onnxruntime.quantization import QuantType, quantize_dynamic

    model = embedding.load_model("fp32")
    example = model.tokenizer(["a short text", "a longer text, so that the batch is padded"],
                              padding=True, return_tensors="pt")
    fp32, int8 = folder / "fp32.onnx", folder / "int8.onnx"
    axes = {0: "batch", 1: "tokens"}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(embedding.last_hidden(model.transformer),
                          (example["input_ids"], example["attention_mask"]), str(fp32),
                          input_names=["input_ids", "attention_mask"],
                          output_names=["hidden"], opset_version=17, dynamo=False,
                          dynamic_axes={"input_ids": axes, "attention_mask": axes,
                                        "hidden": axes})
        quantize_dynamic(str(fp32), str(int8), per_channel=True,
                         weight_type=QuantType.QInt8)
    return {"ort-fp32": fp32, "ort-int8": int8}


def ort_forward(path: Path, tokenizer: Any) -> Forward:
    """One ONNX Runtime session on one thread, pooled and normalised as TorchBackend."""
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    session = onnxruntime.InferenceSession(str(path), options,
                                           providers=["CPUExecutionProvider"])

    def forward(texts: Sequence[str]) -> np.ndarray:
        encodings = tokenizer.encode_batch(list(texts))
        ids = np.array([e.ids for e in encodings], dtype=np.int64)
        attention = np.array([e.attention_mask for e in encodings], dtype=np.int64)
        hidden = session.run(None, {"input_ids": ids, "attention_mask": attention})[0]
        mask = attention[..., None].astype(np.float32)
        pooled = (hidden * mask).sum(1) / np.clip(mask.sum(1), 1e-9, None)
        unit: np.ndarray = pooled / np.linalg.norm(pooled, axis=1, keepdims=True)
        return unit

    return forward


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=80, help="calls per variant and phase")
    args = parser.parse_args()
    tokenizer = embedding.fast_tokenizer(embedding.model_dir())
    torch_int8, torch_fp32 = embedding.TorchBackend("int8"), embedding.TorchBackend("fp32")
    variants: dict[str, Forward] = {"torch int8 (shipped)": torch_int8.forward,
                                    "torch fp32": torch_fp32.forward}
    texts = Texts()
    with tempfile.TemporaryDirectory() as folder:
        for name, path in export(Path(folder)).items():
            variants[name] = ort_forward(path, tokenizer)
        sample = [next(texts) for _ in range(200)]
        reference = np.concatenate([torch_fp32.forward([t]) for t in sample])
        cosines = {}
        for name, forward in variants.items():
            vectors = np.concatenate([forward([t]) for t in sample])
            cosine = (vectors * reference).sum(axis=1)
            cosines[name] = {"min": round(float(cosine.min()), 4),
                             "mean": round(float(cosine.mean()), 4)}
        cases = {name: (lambda f=forward: timed(lambda t: f([t]), next(texts)))
                 for name, forward in variants.items()}
        figures = compare(cases, args.runs, hog_count=2)
    print(f"all-MiniLM-L6-v2, one thread, fresh 1,000-character texts, {args.runs} calls "
          "per variant quiet and as many beside 2 spinning processes, in alternating blocks")
    print(f"{'variant':<22} {'cos to fp32 min/mean':>20} {'quiet p50':>10} "
          f"{'loaded p50':>11} {'ratio':>6}")
    for name, got in figures.items():
        quiet, loaded = got["quiet"]["p50"], got["loaded"]["p50"]
        print(f"{name:<22} {cosines[name]['min']:>10.4f}/{cosines[name]['mean']:<9.4f} "
              f"{quiet:>10.2f} {loaded:>11.2f} {loaded / quiet:>5.2f}x")
    out = ROOT / "bench" / "results" / "onnx_encoder.json"
    out.write_text(json.dumps({"runs": args.runs, "cosine_to_fp32": cosines,
                               "ms": figures}, indent=2) + "\n")
    print(f"saved {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
