"""Which parts of the encoder can be int8 and keep labels? Quantises an optimised fp32 bundle's graph
with ORT dynamic int8 (per-channel weights, heads fp32, as the shipped export) while keeping chosen
MatMuls in fp32, or after SmoothQuant-style smoothing (export/smoothing.py, calibrated on ESConv
train.json windows), then compares labels with the fp32 graph on the same ESConv valid.json windows,
one window per call (as the int8 backend runs).

Usage: python research/int8_variants.py FP32_BUNDLE [N_WINDOWS] [--only-smoothing] [--alphas=0.5,0.8]
                                       [--smoothed-groups]
  --smoothed-groups: also keep each group of MatMuls fp32 after smoothing (mixed precision on top of the
  shipped path), at every alpha
  FP32_BUNDLE: `empathy-score export CKPT -o DIR --precision fp32` (the optimised fp32 graph)
Prints one JSON line per variant: label agreement per task (%), max |logit diff|, seconds.
"""
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from empathy_metric.export.encoder_graph import graph_feeds, head_nodes, quantise_int8
from empathy_metric.export.smoothing import smooth
from empathy_metric.pipeline.encoding import WindowEncoder, load_tokenizer
from empathy_metric.pipeline.windows import WindowSettings
from empathy_metric.training.data import esconv_windows

ESCONV_VALID = "../shared/data/esconv/valid.json"
ESCONV_TRAIN = "../shared/data/esconv/train.json"
CALIBRATION_WINDOWS = 256
SMOOTHING_ALPHAS = (0.5, 0.65, 0.8)


def run_graph_rowwise(path: Path, encoded) -> tuple[dict, float]:
    import onnxruntime as ort
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    names = [o.name for o in session.get_outputs()]
    outputs = {n: [] for n in names}
    started = time.perf_counter()
    for feed in graph_feeds(encoded):
        for name, value in zip(names, session.run(names, feed)):
            outputs[name].append(value)
    return {n: np.concatenate(v) for n, v in outputs.items()}, time.perf_counter() - started


def label_agreement(out: dict, reference: dict, digits: int = 1) -> dict[str, float]:
    """Per task, % of windows whose argmax label equals the reference graph's."""
    return {k[len("logits."):]: round(100 * float((out[k].argmax(-1) == reference[k].argmax(-1)).mean()), digits)
            for k in reference if k.startswith("logits.")}


def report(name: str, out: dict, reference: dict, seconds: float, fp32_seconds: float, **extra) -> None:
    logits = [n for n in reference if n.startswith("logits.")]
    agreement = label_agreement(out, reference)
    print(json.dumps({"variant": name, **extra, "agreement_pct": agreement,
                      "max_abs_logit_diff": round(max(float(np.abs(out[k] - reference[k]).max()) for k in logits), 3),
                      "seconds": round(seconds, 1), "speed_vs_fp32": round(fp32_seconds / seconds, 2)}), flush=True)


def bundle_windows(bundle: Path, limit: int) -> tuple[list, list[dict]]:
    """The bundle's first `limit` ESConv valid.json windows encoded, and the calibration feeds (the
    first CALIBRATION_WINDOWS of train.json, one window each), both cut with the bundle's window."""
    manifest = json.loads((bundle / "manifest.json").read_text())
    settings = WindowSettings.from_dict(manifest["window"])
    encoder = WindowEncoder(load_tokenizer(bundle / "tokenizer.json"), settings)
    encoded = encoder.encode([x.window for x in esconv_windows(ESCONV_VALID, settings)[:limit]])
    train = esconv_windows(ESCONV_TRAIN, settings)[:CALIBRATION_WINDOWS]
    return encoded, graph_feeds(encoder.encode([x.window for x in train]))


def fp32_reference(graph: Path, encoded) -> tuple[dict, float]:
    """The fp32 graph's outputs and seconds, one window per call (printed as the first JSON line)."""
    reference, seconds = run_graph_rowwise(graph, encoded)
    print(json.dumps({"variant": "fp32", "windows": len(encoded), "seconds": round(seconds, 1)}), flush=True)
    return reference, seconds


def main(bundle: Path, limit: int, only_smoothing: bool = False, alphas=SMOOTHING_ALPHAS,
         smoothed_groups: bool = False) -> None:
    import onnx
    graph_path = bundle / "model.onnx"
    encoded, feeds = bundle_windows(bundle, limit)
    reference, fp32_seconds = fp32_reference(graph_path, encoded)
    matmuls = [n.name for n in onnx.load(str(graph_path)).graph.node if n.op_type in ("MatMul", "Attention")]
    layers = sum(1 for m in matmuls if m.startswith("Attention"))
    groups = {
        "all int8 (shipped)": [],
        "attention fp32": [m for m in matmuls if m.startswith("Attention") or "attention/output" in m],
        "FFN output fp32": [m for m in matmuls if "/output/dense" in m and "attention" not in m],
        "FFN fp32": [m for m in matmuls if "intermediate" in m or ("/output/dense" in m and "attention" not in m)],
        "last layer fp32": [m for m in matmuls if f"layer.{layers - 1}/" in m or m == f"Attention_{layers - 1}"],
        "first layer fp32": [m for m in matmuls if "layer.0/" in m or m == "Attention_0"],
        "first layer's FFN fp32": [m for m in matmuls if "layer.0/" in m and "attention" not in m],
    }
    heads = head_nodes(graph_path, list(reference))
    with tempfile.TemporaryDirectory() as tmp:
        quantised = Path(tmp) / "int8.onnx"
        for name, kept in (dict(list(groups.items())[:1]) if only_smoothing else groups).items():
            quantise_int8(graph_path, quantised, heads + kept)
            out, seconds = run_graph_rowwise(quantised, encoded)
            report(name, out, reference, seconds, fp32_seconds, fp32_matmuls=len(kept))
        for alpha in alphas:
            smoothed = Path(tmp) / "smoothed.onnx"
            count = smooth(graph_path, smoothed, feeds, alpha, set(heads))
            fp32_check, _ = run_graph_rowwise(smoothed, encoded[:50])
            drift = max(float(np.abs(fp32_check[k] - reference[k][:50]).max()) for k in fp32_check)
            for name, kept in (groups if smoothed_groups else dict(list(groups.items())[:1])).items():
                quantise_int8(smoothed, quantised, heads + kept)
                out, seconds = run_graph_rowwise(quantised, encoded)
                report(f"smoothed alpha {alpha}, {name}", out, reference, seconds, fp32_seconds,
                       fp32_matmuls=len(kept), smoothed_nodes=count, smoothed_fp32_max_diff=round(drift, 6))


if __name__ == "__main__":
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    alphas = next((tuple(map(float, a.split("=", 1)[1].split(","))) for a in sys.argv if a.startswith("--alphas=")),
                  SMOOTHING_ALPHAS)
    main(Path(args[0]), int(args[1]) if len(args) > 1 else 600, "--only-smoothing" in sys.argv, alphas,
         "--smoothed-groups" in sys.argv)
