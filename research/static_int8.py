"""Static (calibrated) int8 against the shipped dynamic int8: label agreement with fp32, and speed one
window per call against length-sorted multi-row batches (fixed activation ranges make a window's
result independent of its batch-mates, which is what would allow multi-row int8 batches).

Static: ORT `quantize_static`, QDQ format, MatMuls only (the fused Attention op has no static form),
per-channel int8 weights, uint8 activations with ranges calibrated on ESConv train.json windows
(MinMax), after the shipped SmoothQuant-style smoothing (alpha 0.8).

Usage: python research/static_int8.py FP32_OPT_BUNDLE [N_WINDOWS]
  FP32_OPT_BUNDLE: the optimised fp32 graph (`benchmarks/exports.py ... ort-opt`)
Prints one JSON line per variant: agreement per task (%), seconds one window per call (1 thread),
and for static variants seconds in length-sorted batches of 32 (2 threads) and whether those
outputs equal the one-window outputs.
"""
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from empathy_metric.export.encoder_graph import head_nodes, quantise_int8
from empathy_metric.export.smoothing import smooth
from empathy_metric.pipeline.encoding import pad_batch
from int8_variants import bundle_windows, label_agreement, run_graph_rowwise   # research/, beside this script


def session(path: Path, threads: int):
    import onnxruntime as ort
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def sorted_batches(path: Path, encoded, size: int = 32) -> tuple[dict, float]:
    s = session(path, 2)
    names = [o.name for o in s.get_outputs()]
    order = np.argsort([len(e.input_ids) for e in encoded], kind="stable")
    out = {n: np.zeros((len(encoded), *s.get_outputs()[k].shape[1:]), np.float32) for k, n in enumerate(names)}
    started = time.perf_counter()
    for start in range(0, len(order), size):
        rows = order[start:start + size]
        b = pad_batch(encoded, rows, 0)
        values = s.run(names, {"input_ids": b.input_ids, "attention_mask": b.attention_mask,
                                "target_mask": b.target_mask})
        for n, v in zip(names, values):
            out[n][rows] = v
    return out, time.perf_counter() - started


class Calibration:
    def __init__(self, feeds):
        self.feeds = iter(feeds)

    def get_next(self):
        return next(self.feeds, None)


def main(bundle: Path, limit: int) -> None:
    from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType, quantize_static
    graph = bundle / "model.onnx"
    encoded, calibration = bundle_windows(bundle, limit)
    reference, fp32_s = run_graph_rowwise(graph, encoded)
    heads = head_nodes(graph, list(reference))
    with tempfile.TemporaryDirectory() as tmp:
        smoothed, dynamic = Path(tmp) / "smoothed.onnx", Path(tmp) / "dynamic.onnx"
        smooth(graph, smoothed, calibration, 0.8, set(heads))
        quantise_int8(smoothed, dynamic, heads)
        out, seconds = run_graph_rowwise(dynamic, encoded)
        print(json.dumps({"variant": "dynamic int8, smoothed (shipped)",
                          "agreement_pct": label_agreement(out, reference, 2), "rowwise_s": round(seconds, 1),
                          "fp32_rowwise_s": round(fp32_s, 1)}), flush=True)
        for method in (CalibrationMethod.MinMax,):
            static = Path(tmp) / f"static-{method.name}.onnx"
            quantize_static(str(smoothed), str(static), Calibration(calibration), quant_format=QuantFormat.QDQ,
                            op_types_to_quantize=["MatMul"], per_channel=True, activation_type=QuantType.QUInt8,
                            weight_type=QuantType.QInt8, nodes_to_exclude=heads, calibrate_method=method)
            out, seconds = run_graph_rowwise(static, encoded)
            batched, batched_s = sorted_batches(static, encoded)
            same = all(np.array_equal(batched[k], out[k]) for k in out)
            close = max(float(np.abs(batched[k] - out[k]).max()) for k in out)
            print(json.dumps({"variant": f"static int8 QDQ, smoothed, {method.name}",
                              "agreement_pct": label_agreement(out, reference, 2), "rowwise_s": round(seconds, 1),
                              "sorted_batches_32_s": round(batched_s, 1), "batched_equals_rowwise": same,
                              "batched_max_diff": close}), flush=True)


if __name__ == "__main__":
    main(Path(sys.argv[1]), int(sys.argv[2]) if len(sys.argv) > 2 else 1000)
