"""Which margin should an int8 bundle's float fallback use (export --fallback-margin)?

int8/fp32 label disagreements sit at small int8 top-2 margins, so re-running only the windows whose
smallest margin over the label heads is under a threshold in float brings the labels back to fp32's.
This runs, one window per call, a bundle exported with a fallback (its int8 graph, which also returns
its embedding output, and its float fallback graph) and the fp32 graph of the same checkpoint, then
reports for each threshold the share of windows re-run and the label agreement with fp32.

Usage: PYTHONPATH=research python research/int8_fallback.py FP32_BUNDLE FALLBACK_BUNDLE [N_TRAIN]
  FP32_BUNDLE: `empathy-score export CKPT -o DIR --precision fp32`
  FALLBACK_BUNDLE: `empathy-score export CKPT -o DIR --precision int8 --fallback-margin M ...`
  The threshold is to be chosen on ESConv train.json windows (the first N_TRAIN, default 3000);
  valid.json (all windows) is reported beside it.
Prints one JSON line per (split, threshold).
"""
import json
import sys
from pathlib import Path

import numpy as np

from empathy_metric.export.encoder_graph import graph_feeds, run_graph
from empathy_metric.pipeline.encoding import WindowEncoder, load_tokenizer
from empathy_metric.pipeline.windows import WindowSettings
from empathy_metric.runtime.float_fallback import EMBEDDED, MASK_INDEX, smallest_margin
from empathy_metric.runtime.ort_session import make_session
from empathy_metric.training.data import esconv_windows
from int8_variants import ESCONV_TRAIN, ESCONV_VALID

THRESHOLDS = (0.0, 0.02, 0.03, 0.04, 0.05, 0.06, 0.08, 0.1, 0.15, 0.2)


def run_windows(bundle: Path, encoded) -> tuple[dict, dict]:
    """(int8 outputs, fallback outputs) of every window, one window per call."""
    int8 = make_session(bundle / "model.onnx", "cpu", 1)
    fallback = make_session(bundle / "model.fallback.onnx", "cpu", 1)
    names = [o.name for o in int8.get_outputs()]
    fallback_names = [o.name for o in fallback.get_outputs()]
    plain = {n: [] for n in fallback_names}
    floated = {n: [] for n in fallback_names}
    for feeds in graph_feeds(encoded):
        out = dict(zip(names, int8.run(names, feeds)))
        again = fallback.run(fallback_names, {EMBEDDED: out[EMBEDDED], MASK_INDEX: out[MASK_INDEX],
                                              "target_mask": feeds["target_mask"]})
        for n, value in zip(fallback_names, again):
            plain[n].append(out[n])
            floated[n].append(value)
    return ({n: np.concatenate(v) for n, v in plain.items()}, {n: np.concatenate(v) for n, v in floated.items()})


def agreement(out: dict, reference: dict) -> dict:
    return {k[len("logits."):]: round(100 * float((out[k].argmax(-1) == reference[k].argmax(-1)).mean()), 2)
            for k in reference if k.startswith("logits.")}


def perceived_diff(out: dict, reference: dict) -> dict:
    diff = np.abs(out["perceived"] - reference["perceived"])
    return {"mean": round(float(diff.mean()), 4), "p99": round(float(np.quantile(diff, .99)), 4),
            "max": round(float(diff.max()), 4)}


def main(fp32_bundle: Path, bundle: Path, limit: int) -> None:
    manifest = json.loads((bundle / "manifest.json").read_text())
    settings = WindowSettings.from_dict(manifest["window"])
    encoder = WindowEncoder(load_tokenizer(bundle / "tokenizer.json"), settings)
    for split, windows in (("train", esconv_windows(ESCONV_TRAIN, settings)[:limit]),
                           ("valid", esconv_windows(ESCONV_VALID, settings))):
        encoded = encoder.encode([w.window for w in windows])
        fp32 = run_graph(fp32_bundle / "model.onnx", graph_feeds(encoded), threads=1)
        int8, floated = run_windows(bundle, encoded)
        print(json.dumps({"split": split, "windows": len(encoded), "fallback_alone": agreement(floated, fp32),
                          "fallback_perceived_diff": perceived_diff(floated, fp32)}), flush=True)
        margin = smallest_margin(int8)
        for t in THRESHOLDS:
            rerun = margin < t
            out = {k: np.where(rerun.reshape(-1, *[1] * (v.ndim - 1)), floated[k], v) for k, v in int8.items()}
            print(json.dumps({"split": split, "threshold": t, "rerun_pct": round(100 * float(rerun.mean()), 2),
                              "agreement_pct": agreement(out, fp32), "perceived_diff": perceived_diff(out, fp32)}),
                  flush=True)


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]), int(sys.argv[3]) if len(sys.argv) > 3 else 3000)
