"""Could the float fallback re-run fewer windows? Two predictors of int8/fp32 label disagreement
besides the one shipped (the smallest top-2 margin over all label heads under one threshold):

1. one threshold per head, the set that re-runs the fewest train windows while every task keeps the
   target agreement on train (a grid search), reported on valid;
2. the int8 graph's dynamic activation scales (the y_scale of each DynamicQuantizeLinear): their
   correlation with the window's largest |int8 - fp32| logit difference, on train.

Usage: PYTHONPATH=research python research/int8_fallback_heads.py FP32_BUNDLE FALLBACK_BUNDLE CACHE_DIR [N_TRAIN]
  (the bundles of research/int8_fallback.py; outputs are cached in CACHE_DIR as npz). One JSON line each.
"""
import itertools
import json
import sys
from pathlib import Path

import numpy as np

from empathy_metric.export.encoder_graph import graph_feeds, run_graph
from empathy_metric.pipeline.encoding import WindowEncoder, load_tokenizer
from empathy_metric.pipeline.windows import WindowSettings
from empathy_metric.runtime.ort_session import make_session
from empathy_metric.training.data import esconv_windows
from int8_fallback import agreement, run_windows
from int8_variants import ESCONV_TRAIN, ESCONV_VALID

GRID = (0, 0.01, 0.02, 0.03, 0.04, 0.05, 0.06, 0.07, 0.08, 0.1)


def activation_scales(bundle: Path, feeds, tmp: Path) -> np.ndarray:
    import onnx
    model = onnx.load(str(bundle / "model.onnx"))
    names = [n.output[1] for n in model.graph.node if n.op_type == "DynamicQuantizeLinear"]
    model.graph.output.extend([onnx.helper.make_tensor_value_info(n, onnx.TensorProto.FLOAT, []) for n in names])
    onnx.save(model, str(tmp))
    session = make_session(tmp, "cpu", 1)
    return np.stack([np.array(session.run(names, feed)).ravel() for feed in feeds])


def outputs(fp32_bundle: Path, bundle: Path, cache: Path, limit: int) -> dict:
    """split -> {"fp32"|"int8"|"float": outputs, "scales": [windows, n]}, computed once into `cache`."""
    manifest = json.loads((bundle / "manifest.json").read_text())
    settings = WindowSettings.from_dict(manifest["window"])
    encoder = WindowEncoder(load_tokenizer(bundle / "tokenizer.json"), settings)
    found = {}
    for split, path, n in (("train", ESCONV_TRAIN, limit), ("valid", ESCONV_VALID, None)):
        file = cache / f"{split}.npz"
        if not file.exists():
            encoded = encoder.encode([w.window for w in esconv_windows(path, settings)[:n]])
            fp32 = run_graph(fp32_bundle / "model.onnx", graph_feeds(encoded), threads=1)
            int8, floated = run_windows(bundle, encoded)
            scales = activation_scales(bundle, graph_feeds(encoded), cache / "scales.onnx")
            np.savez(file, scales=scales, **{f"fp32/{k}": v for k, v in fp32.items()},
                     **{f"int8/{k}": v for k, v in int8.items()}, **{f"float/{k}": v for k, v in floated.items()})
        data = np.load(file)
        found[split] = {"scales": data["scales"]}
        for key in data.files:
            if "/" in key:
                source, name = key.split("/", 1)
                found[split].setdefault(source, {})[name] = data[key]
    return found


def top2_gap(logits: np.ndarray) -> np.ndarray:
    ordered = np.sort(logits, axis=-1)
    return ordered[:, -1] - ordered[:, -2]


def rerun_by_head(split: dict, heads: list[str], thresholds) -> np.ndarray:
    rerun = np.zeros(len(split["fp32"][heads[0]]), dtype=bool)
    for head, t in zip(heads, thresholds):
        rerun |= top2_gap(split["int8"][head]) < t
    return rerun


def replaced(split: dict, rerun: np.ndarray) -> dict:
    return {k: np.where(rerun[:, None], split["float"][k], v) for k, v in split["int8"].items() if k.startswith("logits.")}


def main(fp32_bundle: Path, bundle: Path, cache: Path, limit: int) -> None:
    cache.mkdir(parents=True, exist_ok=True)
    data = outputs(fp32_bundle, bundle, cache, limit)
    train, valid = data["train"], data["valid"]
    heads = [k for k in train["fp32"] if k.startswith("logits.")]
    for target in (99.0, 99.25):
        best = None
        for thresholds in itertools.product(GRID, repeat=len(heads)):
            rerun = rerun_by_head(train, heads, thresholds)
            agreed = agreement(replaced(train, rerun), {k: train["fp32"][k] for k in heads})
            if min(agreed.values()) >= target and (best is None or rerun.mean() < best[0]):
                best = (rerun.mean(), thresholds, agreed)
        share, thresholds, agreed = best
        rerun = rerun_by_head(valid, heads, thresholds)
        print(json.dumps({"per_head_target_pct": target, "thresholds": dict(zip(heads, thresholds)),
                          "train_rerun_pct": round(100 * share, 1), "train_agreement_pct": agreed,
                          "valid_rerun_pct": round(100 * float(rerun.mean()), 1),
                          "valid_agreement_pct": agreement(replaced(valid, rerun),
                                                           {k: valid["fp32"][k] for k in heads})}), flush=True)
    error = np.max([np.abs(train["int8"][k] - train["fp32"][k]).max(-1) for k in heads], axis=0)
    scales = train["scales"]
    print(json.dumps({"scale_vs_error_correlation": [round(float(np.corrcoef(scales[:, j], error)[0, 1]), 3)
                                                     for j in range(scales.shape[1])],
                      "max_scale_vs_error": round(float(np.corrcoef(scales.max(1), error)[0, 1]), 3)}))


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3]), int(sys.argv[4]) if len(sys.argv) > 4 else 3000)
