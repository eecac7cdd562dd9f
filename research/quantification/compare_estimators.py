"""Which rate estimator makes a bundle's corpus rates unbiased? Fits cc / pcc / acc on the validation
split's logits (the bundle's own graph) and reports, on the held-out splits (ESConv valid.json, EMH
test), every rate metric's corpus bias and dialogue-level r with bootstrap CIs over dialogues.

    python research/quantification/compare_estimators.py BUNDLE ../shared/data runs/rates.json
"""
from __future__ import annotations

import json
import sys

import numpy as np

from empathy_metric.bundle import load_bundle
from empathy_metric.pipeline.quantification import quantifier
from empathy_metric.reporting.statistics import BootstrapSettings
from empathy_metric.runtime import load_backend
from empathy_metric.training.experiment import default_splits
from empathy_metric.training.rate_validity import fit_rates, rate_validity

ESTIMATORS = ("cc", "pcc", "acc")


def main(bundle_path: str, data_dir: str, out_json: str) -> None:
    bundle = load_bundle(bundle_path)
    backend = load_backend(bundle)
    tasks = bundle.tasks
    splits = default_splits(data_dir, bundle.window, sources=("esconv", "emh"))

    def logits_of(labelled):
        outputs = backend.predict([x.window for x in labelled]).outputs
        return {t.name: outputs[f"logits.{t.name}"] for t in tasks}

    valid_logits = logits_of(splits.valid)
    fitted = {e: fit_rates(tasks, valid_logits, [x.labels for x in splits.valid], e) for e in ESTIMATORS}
    settings = BootstrapSettings(n_resamples=1000)
    report = {"bundle": bundle.signature(), "fitted": {e: [t.to_dict().get("rates", {}) for t in ts]
                                                       for e, ts in fitted.items()}}
    for name, labelled in splits.tests.items():
        logits = logits_of(labelled)
        for estimator, fitted_tasks in fitted.items():
            for task in fitted_tasks:
                rows = [i for i, x in enumerate(labelled) if task.name in x.labels]
                if not rows:
                    continue
                truth = [labelled[i].labels[task.name] for i in rows]
                groups = [labelled[i].group for i in rows]
                result = rate_validity(task, logits[task.name][rows], np.array(truth),
                                       groups, quantifier(task), settings)
                report.setdefault(name, {}).setdefault(estimator, {}).update(result)
    with open(out_json, "w") as handle:
        json.dump(report, handle, indent=1)
    for name in splits.tests:
        metrics = list(report[name]["cc"])
        print(f"\n{name}: corpus bias (predicted - true) and dialogue-level r")
        print(f"{'metric':<52} {'true':>6} " + " ".join(f"{e + ' bias':>9} {e + ' r':>7}" for e in ESTIMATORS))
        for metric in metrics:
            row = report[name]
            print(f"{metric:<52} {row['cc'][metric]['true']:6.3f} " + " ".join(
                f"{row[e][metric]['bias']:+9.3f} {row[e][metric]['dialogue_r']:7.2f}" for e in ESTIMATORS))


if __name__ == "__main__":
    main(*sys.argv[1:4])
