"""Issue 36, item 3, a first probe: does an ordinal head (CORN: P(level > 0), then P(level > 1 | > 0))
on the shipped int8 graph's frozen features ever predict EMH "weak", and does it beat the shipped heads?

    PYTHONPATH=$PWD nice -n 10 python research/emh_ordinal/probe.py --data ../shared/data \
        --features-bundle /work/runs/generic/feature-bundle

Features: the pooled reply and pooled context of the int8 graph (research/understanding/graph.py's
feature bundle) and their product, standardised. Trained on the EMH 85% training part (the project's
split), scored on the 15% held out; the shipped heads' argmax on the same windows is the baseline.
Caveat: the encoder was trained on the 85%, so its features there are fitted features (a head trained
on them sees cleaner inputs than it gets on the 15%); a real answer needs the ordinal head trained
with the encoder, under the paper's CV (issue 36).
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import f1_score

from empathy_metric.bundle import load_bundle
from empathy_metric.runtime.onnx_encoder import OnnxEncoderBackend
from empathy_metric.training.data import emh_windows, holdout_split
from empathy_metric.training.experiment import EMH_TEST_FRACTION, SPLIT_SEED

TASKS = ("emh_emotional_reactions", "emh_interpretations", "emh_explorations")
SEED = 36


def corn(x, y, c: float):
    """Two conditional binary classifiers, balanced: level > 0; level > 1 given > 0."""
    first = LogisticRegression(C=c, class_weight="balanced", max_iter=2000).fit(x, (y > 0).astype(int))
    keep = y > 0
    second = LogisticRegression(C=c, class_weight="balanced", max_iter=2000).fit(x[keep], (y[keep] > 1).astype(int))
    return first, second


def corn_predict(model, x) -> np.ndarray:
    first, second = model
    above0 = first.predict_proba(x)[:, 1]
    above1 = above0 * second.predict_proba(x)[:, 1]          # P(> 1) = P(> 0) P(> 1 | > 0)
    return (above0 > 0.5).astype(int) + (above1 > 0.5).astype(int)


def f1s(y, p) -> dict:
    per = f1_score(y, p, labels=[0, 1, 2], average=None, zero_division=0)
    return {"macro_f1": float(per.mean() * 100), "weak_f1": float(per[1] * 100), "weak_predicted": int((p == 1).sum())}


def paired_delta(y, a, b, groups, n: int = 1000) -> list[float]:
    """Macro-F1 of b minus a, and its 95% bootstrap CI resampling seeker posts (groups)."""
    rng = np.random.default_rng(SEED)
    names = np.unique(groups)
    rows = {g: np.flatnonzero(groups == g) for g in names}
    delta = f1s(y, b)["macro_f1"] - f1s(y, a)["macro_f1"]
    found = []
    for _ in range(n):
        pick = np.concatenate([rows[g] for g in rng.choice(names, len(names))])
        found.append(f1s(y[pick], b[pick])["macro_f1"] - f1s(y[pick], a[pick])["macro_f1"])
    return [delta, float(np.percentile(found, 2.5)), float(np.percentile(found, 97.5))]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", required=True, type=Path)
    parser.add_argument("--features-bundle", required=True, type=Path)
    parser.add_argument("-o", "--output", type=Path)
    args = parser.parse_args()
    bundle = load_bundle(args.features_bundle)
    kept, held = holdout_split(emh_windows(str(args.data / "emh"), bundle.window), EMH_TEST_FRACTION, SPLIT_SEED)
    backend = OnnxEncoderBackend(bundle, threads=2)
    out = {name: backend.predict([lw.window for lw in part]).outputs for name, part in (("kept", kept), ("held", held))}

    def features(o):
        t, c = o["feat.target"], o["feat.context"]
        return np.concatenate([t, c, t * c], axis=1)
    x_kept, x_held = features(out["kept"]), features(out["held"])
    mean, scale = x_kept.mean(0), x_kept.std(0) + 1e-6
    x_kept, x_held = (x_kept - mean) / scale, (x_held - mean) / scale
    report = {}
    for task in TASKS:
        has_k = np.array([task in lw.labels for lw in kept])
        has_h = np.array([task in lw.labels for lw in held])
        y_k = np.array([lw.labels[task] for lw in kept if task in lw.labels])
        y_h = np.array([lw.labels[task] for lw in held if task in lw.labels])
        shipped = out["held"][f"logits.{task}"][has_h].argmax(1)
        report[task] = {"n_train": int(has_k.sum()), "n_held": int(has_h.sum()),
                        "weak_in_held": int((y_h == 1).sum()), "shipped_head": f1s(y_h, shipped)}
        groups = np.array([lw.group for lw in held if task in lw.labels])
        for c in (0.01, 0.1):           # both reported: no value is picked on the held-out part
            predicted = corn_predict(corn(x_kept[has_k], y_k, c), x_held[has_h])
            report[task][f"corn_C{c}"] = {**f1s(y_h, predicted),
                                          "macro_f1_minus_shipped": paired_delta(y_h, shipped, predicted, groups)}
        print(task, json.dumps(report[task]), flush=True)
    if args.output:
        args.output.write_text(json.dumps(report, indent=1) + "\n")


if __name__ == "__main__":
    main()
