"""Two bundles on the same held-out data, paired: is the difference in validity one the data can see?

For each held-out split of `eval` (ESConv valid.json, the EMH 15%, WASSA dev), both bundles score the
same windows as shipped (int8 and fallback included); the report gives each one's macro-F1 (ESConv,
EMH) or turn-level Pearson r with the WASSA raters, and the difference A - B with a 95% bootstrap CI
that resamples dialogues (conversations for WASSA) and scores both bundles on the same draws. The
CI's half-width is about the smallest difference this data can tell apart from zero.

    python research/fast/compare_bundles.py --data ../shared/data BUNDLE_A BUNDLE_B
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from empathy_metric.bundle import load_bundle
from empathy_metric.reporting.statistics import BootstrapSettings
from empathy_metric.runtime import load_backend
from empathy_metric.training.evaluation import classification_report, grouped_means
from empathy_metric.training.experiment import GROUPS, default_splits
from empathy_metric.training.perceived_validity import Rows, bootstrap_ci, pearson, turn_rows

SETTINGS = BootstrapSettings()          # 1,000 resamples, 95%, percentile, seed 0


def f1_comparison(tasks, logits_a, logits_b, labelled, group: str) -> dict:
    names = GROUPS[group]
    picked = [t for t in tasks if t.name in names]
    gold = [x.labels for x in labelled]

    def f1(logits, rows):
        report = classification_report(picked, {k: v[rows] for k, v in logits.items()}, [gold[r] for r in rows])
        return grouped_means(report, {group: names})[group]["f1"]

    # bootstrap_ci resamples dialogues of Rows; here each row carries its own index as its "score"
    n = len(gold)
    rows = Rows(score=np.arange(n), truth=np.zeros(n), length=np.zeros(n), group=np.array([x.group for x in labelled]))
    a, b = f1(logits_a, rows.score), f1(logits_b, rows.score)
    ci = bootstrap_ci(rows, lambda picked_rows, _t, _l: f1(logits_a, picked_rows) - f1(logits_b, picked_rows), SETTINGS)
    return {"a": a, "b": b, "a_minus_b": a - b, "ci": ci, "dialogues": len(set(rows.group))}


def r_comparison(a: Rows, b: Rows) -> dict:
    """Both bundles' rows of the same rated turns; the difference resampled on the same conversations."""
    both = Rows(np.stack([a.score, b.score], 1), a.truth, a.length, a.group)
    ci = bootstrap_ci(both, lambda s, t, _l: pearson(s[:, 0], t) - pearson(s[:, 1], t), SETTINGS)
    r_a, r_b = pearson(a.score, a.truth), pearson(b.score, b.truth)
    return {"a": r_a, "b": r_b, "a_minus_b": r_a - r_b, "ci": ci, "conversations": len(set(a.group))}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("bundle_a")
    parser.add_argument("bundle_b")
    parser.add_argument("--data", type=Path, default=Path("../shared/data"))
    args = parser.parse_args()
    bundles = [load_bundle(args.bundle_a), load_bundle(args.bundle_b)]
    if bundles[0].window != bundles[1].window:
        raise SystemExit("the bundles read different windows; compare bundles of one window setting")
    backends = [load_backend(b, "cpu") for b in bundles]
    settings, tasks = bundles[0].window, bundles[0].tasks
    report = {"a": bundles[0].signature(), "b": bundles[1].signature(), "bootstrap": SETTINGS.to_dict()}
    tests = default_splits(str(args.data), settings).tests
    for name, group in (("esconv_valid", "ESConv"), ("emh_test", "EMH")):
        windows = [x.window for x in tests[name]]
        outputs = [be.predict(windows).outputs for be in backends]
        logits = [{t.name: o[f"logits.{t.name}"] for t in tasks} for o in outputs]
        report[name] = f1_comparison(tasks, logits[0], logits[1], tests[name], group)
        print(name, json.dumps(report[name]), flush=True)
    labelled = tests["wassa_dev"]                 # perceived columns as PERCEIVED_DIMENSIONS: empathy first
    windows = [x.window for x in labelled]
    column = [b.perceived.index("empathy") for b in bundles]
    scores = [be.predict(windows).outputs["perceived"][:, c] for be, c in zip(backends, column)]
    rows = [turn_rows(s, labelled, 0) for s in scores]        # the rated turns, same rows for both
    report["wassa_dev"] = r_comparison(*rows)
    print("wassa_dev", json.dumps(report["wassa_dev"]), flush=True)
    print(json.dumps(report))


if __name__ == "__main__":
    main()
