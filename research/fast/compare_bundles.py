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
from scipy import stats

from empathy_metric.bundle import load_bundle
from empathy_metric.runtime import load_backend
from empathy_metric.training.evaluation import classification_report, grouped_means
from empathy_metric.training.experiment import GROUPS, default_splits
from empathy_metric.training.perceived_validity import pearson, turn_rows
from empathy_metric.training.wassa import wassa_windows

RESAMPLES, SEED = 1000, 0


def paired_interval(n_groups: int, statistic) -> tuple[float, float]:
    """Percentile CI of statistic(group indices drawn with replacement)."""
    result = stats.bootstrap((np.arange(n_groups),), statistic, vectorized=False, n_resamples=RESAMPLES,
                             method="percentile", rng=np.random.default_rng(SEED))
    return float(result.confidence_interval.low), float(result.confidence_interval.high)


def group_rows(groups: list[str]) -> list[np.ndarray]:
    ids = sorted(set(groups))
    index = {g: i for i, g in enumerate(ids)}
    members: list[list[int]] = [[] for _ in ids]
    for row, g in enumerate(groups):
        members[index[g]].append(row)
    return [np.array(m) for m in members]


def f1_comparison(tasks, logits_a, logits_b, labelled, group: str) -> dict:
    names = GROUPS[group]
    gold = [x.labels for x in labelled]
    rows_of = group_rows([x.group for x in labelled])

    def f1(logits, rows):
        picked = [t for t in tasks if t.name in names]
        report = classification_report(picked, {k: v[rows] for k, v in logits.items()}, [gold[r] for r in rows])
        return grouped_means(report, {group: names})[group]["f1"]

    def difference(sample):
        rows = np.concatenate([rows_of[i] for i in sample])
        return f1(logits_a, rows) - f1(logits_b, rows)

    every = np.arange(len(gold))
    a, b = f1(logits_a, every), f1(logits_b, every)
    return {"a": a, "b": b, "a_minus_b": a - b, "ci": paired_interval(len(rows_of), difference),
            "dialogues": len(rows_of)}


def r_comparison(scores_a, scores_b, truth, groups) -> dict:
    rows_of = group_rows(groups)

    def difference(sample):
        rows = np.concatenate([rows_of[i] for i in sample])
        return pearson(scores_a[rows], truth[rows]) - pearson(scores_b[rows], truth[rows])

    a, b = pearson(scores_a, truth), pearson(scores_b, truth)
    return {"a": a, "b": b, "a_minus_b": a - b, "ci": paired_interval(len(rows_of), difference),
            "conversations": len(rows_of)}


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
    report = {"a": bundles[0].signature(), "b": bundles[1].signature(), "resamples": RESAMPLES}
    tests = default_splits(str(args.data), settings).tests
    for name, group in (("esconv_valid", "ESConv"), ("emh_test", "EMH")):
        windows = [x.window for x in tests[name]]
        outputs = [be.predict(windows).outputs for be in backends]
        logits = [{t.name: o[f"logits.{t.name}"] for t in tasks} for o in outputs]
        report[name] = f1_comparison(tasks, logits[0], logits[1], tests[name], group)
        print(name, json.dumps(report[name]), flush=True)
    labelled = wassa_windows(args.data / "wassa23", "dev", settings, ["empathy"])
    windows = [x.window for x in labelled]
    column = [b.perceived.index("empathy") for b in bundles]
    scores = [be.predict(windows).outputs["perceived"][:, c] for be, c in zip(backends, column)]
    rows = [turn_rows(s, labelled, 0) for s in scores]        # the rated turns, same rows for both
    report["wassa_dev"] = r_comparison(rows[0].score, rows[1].score, rows[0].truth, list(rows[0].group))
    print("wassa_dev", json.dumps(report["wassa_dev"]), flush=True)
    print(json.dumps(report))


if __name__ == "__main__":
    main()
