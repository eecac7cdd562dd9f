"""Which decision rule for rare classes holds up under cross-validation?

Takes the fold checkpoints that `empathy-score cv --save-folds DIR` keeps, removes their calibration,
and scores each fold's test part under several rules, all fitted on that fold's validation part only:

  none          argmax of the trained logits;
  search        per-class offsets by coordinate search on validation macro-F1 (`--calibration search`,
                the default until 2026-11-27);
  prior-tau     logit adjustment (Menon et al. 2021): offsets -tau * log(training prior), one tau per
                task chosen on validation: one number to fit instead of one per class
                (`--calibration prior`, the default now);
  prior-1       the same with tau = 1, nothing fitted.

    .venv/bin/python benchmarks/calibration_study.py runs/emh-only/t128 [--data ../shared/data]
"""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from empathy_metric.training.calibration import fit_bias, fit_prior_bias, label_counts
from empathy_metric.training.encoder_recipe import EncoderRecipe
from empathy_metric.training.experiment import cv_fold_splits, cv_windows, evaluate_outputs, sources_of


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folds_dir")
    parser.add_argument("--data", default="../shared/data")
    parser.add_argument("-k", type=int, default=5)
    parser.add_argument("--seed", type=int, default=2026)
    args = parser.parse_args()
    saved = {int(p.name.split("-")[1]): p for p in Path(args.folds_dir).glob("fold-*")}
    first = EncoderRecipe.averaged([str(saved[min(saved)])], log=lambda *a: None)
    labelled = cv_windows(args.data, first.settings, sources_of(t.name for t in first.tasks))
    results: dict[str, list[dict]] = {}
    for fold, train, valid, test in cv_fold_splits(labelled, args.k, args.seed):
        if fold not in saved:
            continue
        recipe = EncoderRecipe.averaged([str(saved[fold])], log=lambda *a: None)
        tasks = recipe.tasks
        v, t = (recipe.predict([x.window for x in part]) for part in (valid, test))
        v_logits = {x.name: v[f"logits.{x.name}"] for x in tasks}
        gold = [x.labels for x in valid]
        counts = label_counts(tasks, [x.labels for x in train])
        rules = {"none": {}, "search": fit_bias(tasks, v_logits, gold),
                 "prior-tau": fit_prior_bias(tasks, counts, v_logits, gold),
                 "prior-1": fit_prior_bias(tasks, counts, v_logits, gold, taus=[1.0])}
        for name, bias in rules.items():
            report = evaluate_outputs(tasks, t, test, bias)
            results.setdefault(name, []).append(report)
            print(f"fold {fold + 1} {name:10s} " + "  ".join(
                f"{g} {m['f1'] * 100:.1f}" for g, m in report["means"].items()) + "  (" + ", ".join(
                f"{k.removeprefix('emh_')} {r['mean']['f1'] * 100:.1f}" for k, r in report["tasks"].items()) + ")",
                flush=True)
    print(f"\nmean over folds {sorted(f + 1 for f in saved)}, macro-F1 (test parts):")
    for name, reports in results.items():
        groups = reports[0]["means"]
        print(f"{name:10s} " + "  ".join(
            f"{g} {np.mean([r['means'][g]['f1'] for r in reports]) * 100:.1f}" for g in groups) + "  (" + ", ".join(
            f"{k.removeprefix('emh_')} {np.mean([r['tasks'][k]['mean']['f1'] for r in reports]) * 100:.1f}"
            for k in reports[0]["tasks"]) + ")")


if __name__ == "__main__":
    main()
