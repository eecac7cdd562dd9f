"""Predicted vs gold label rates on the held-out EMH pairs, with and without the bundle's calibration
offsets. Calibration is fitted for macro-F1, which over-predicts rare levels: this shows by how much,
so that corpus-level rates (`emh_*.rate.weak`) are read with care.

Usage: python research/label_rates.py [BUNDLE] [DATA_DIR]   (defaults: the shipped model, ../shared/data)
"""
import sys

import numpy as np

from empathy_metric.bundle import load_bundle
from empathy_metric.runtime import load_backend
from empathy_metric.training.data import emh_windows, holdout_split
from empathy_metric.training.experiment import EMH_TEST_FRACTION, SPLIT_SEED

EMH_TASKS = ("emh_emotional_reactions", "emh_interpretations", "emh_explorations")


def main(bundle_path: str | None, data_dir: str) -> None:
    bundle = load_bundle(bundle_path)
    _, test = holdout_split(emh_windows(f"{data_dir}/emh", bundle.window), EMH_TEST_FRACTION, SPLIT_SEED)
    outputs = load_backend(bundle, "cpu").predict([x.window for x in test]).outputs
    print(f"{len(test)} held-out EMH pairs; rates of none / weak / strong (%)")
    for task in EMH_TASKS:
        labelled = [i for i, x in enumerate(test) if task in x.labels]     # pairs whose annotators agree
        logits = np.asarray(outputs[f"logits.{task}"])[labelled]
        bias = np.asarray(bundle.manifest.get("calibration_bias", {}).get(task, [0.0] * logits.shape[1]))
        gold = np.array([test[i].labels[task] for i in labelled])

        def rates(labels):
            return " / ".join(f"{100 * r:4.1f}" for r in np.bincount(labels, minlength=logits.shape[1]) / len(labels))
        print(f"{task:26s} gold {rates(gold)} | shipped {rates(logits.argmax(-1))} | "
              f"without calibration {rates((logits - bias).argmax(-1))}")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else None, sys.argv[2] if len(sys.argv) > 2 else "../shared/data")
