"""Which decision rule for the rare classes holds up? And what does an ensemble of runs give?

Rules, each fitted on a validation split only, then scored on held-out data:

  none          argmax of the trained logits;
  search        per-class offsets by coordinate search on validation macro-F1 (`--calibration search`,
                the default until 2026-11-27);
  prior-tau     logit adjustment (Menon et al. 2021): offsets -tau * log(training prior), one tau per
                task chosen on validation: one number to fit instead of one per class
                (`--calibration prior`, the default now);
  prior-1       the same with tau = 1, nothing fitted.

Two modes:

  calibration_study.py folds DIR...     fold checkpoints kept by `cv --save-folds DIR`: each fold's
                                        validation and test parts, as `cv` splits them; `--ensemble`
                                        adds the mean probabilities of the DIRs' fold checkpoints
  calibration_study.py heldout CKPT...  checkpoints of `train` (default splits): ESConv valid.json and
                                        the held-out EMH pairs; `A+B` names the soup of A and B, and
                                        `--ensemble` adds the mean of all CKPTs' probabilities

Calibration offsets saved in checkpoints are taken out first (EncoderRecipe.averaged).
"""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from empathy_metric.training.calibration import fit_bias, fit_prior_bias, label_counts
from empathy_metric.training.encoder_recipe import EncoderRecipe
from empathy_metric.training.experiment import cv_fold_splits, cv_windows, default_splits, evaluate_outputs, sources_of


def quiet(*_):
    pass


def rules(tasks, train, valid, valid_outputs) -> dict[str, dict]:
    logits = {t.name: valid_outputs[f"logits.{t.name}"] for t in tasks}
    gold = [x.labels for x in valid]
    counts = label_counts(tasks, [x.labels for x in train])
    return {"none": {}, "search": fit_bias(tasks, logits, gold),
            "prior-tau": fit_prior_bias(tasks, counts, logits, gold),
            "prior-1": fit_prior_bias(tasks, counts, logits, gold, taus=[1.0])}


def summary(report: dict) -> str:
    means = "  ".join(f"{g} {m['f1'] * 100:.1f}" for g, m in report["means"].items())
    emh = ", ".join(f"{k.removeprefix('emh_')} {r['mean']['f1'] * 100:.1f}"
                    for k, r in report["tasks"].items() if k.startswith("emh_"))
    return means + (f"  ({emh})" if emh else "")


def study_folds(folds_dirs: list[str], data: str, k: int, seed: int, ensemble: bool) -> None:
    """Each DIR's fold checkpoints (and with `ensemble` their mean probabilities) on the folds all DIRs kept."""
    saved = [{int(p.name.split("-")[1]): p for p in Path(d).glob("fold-*")} for d in folds_dirs]
    kept = set.intersection(*(set(s) for s in saved))
    first = EncoderRecipe.averaged([str(saved[0][min(kept)])], log=quiet)
    labelled = cv_windows(data, first.settings, sources_of(t.name for t in first.tasks))
    results: dict[tuple[str, str], list[dict]] = {}
    for fold, train, valid, test in cv_fold_splits(labelled, k, seed):
        if fold not in kept:
            continue
        outputs = {}
        for name, fold_dirs in zip(folds_dirs, saved):
            recipe = EncoderRecipe.averaged([str(fold_dirs[fold])], log=quiet)
            outputs[name] = [recipe.predict([x.window for x in part]) for part in (valid, test)]
        if ensemble:
            outputs["ensemble"] = [mean_probabilities([o[i] for o in outputs.values()]) for i in (0, 1)]
        for name, (v, t) in outputs.items():
            for rule, bias in rules(first.tasks, train, valid, v).items():
                report = evaluate_outputs(first.tasks, t, test, bias)
                results.setdefault((name, rule), []).append(report)
                print(f"fold {fold + 1} {name} {rule:10s} {summary(report)}", flush=True)
    print(f"\nmean over folds {sorted(f + 1 for f in kept)}, macro-F1 (test parts):")
    for (name, rule), reports in results.items():
        mean = {"means": {g: {"f1": np.mean([r["means"][g]["f1"] for r in reports])} for g in reports[0]["means"]},
                "tasks": {n: {"mean": {"f1": np.mean([r["tasks"][n]["mean"]["f1"] for r in reports])}}
                          for n in reports[0]["tasks"]}}
        print(f"{name} {rule:10s} {summary(mean)}")


def mean_probabilities(outputs: list[dict]) -> dict:
    """An ensemble's outputs: log of the mean softmax of each task's logits."""
    result = {}
    for name in outputs[0]:
        if name.startswith("logits."):
            probs = [np.exp(o[name] - o[name].max(-1, keepdims=True)) for o in outputs]
            result[name] = np.log(np.mean([p / p.sum(-1, keepdims=True) for p in probs], axis=0))
    return result


def study_heldout(checkpoints: list[str], data: str, ensemble: bool) -> None:
    recipes = {c: EncoderRecipe.averaged(c.split("+"), log=quiet) for c in checkpoints}
    first = next(iter(recipes.values()))
    splits = default_splits(data, first.settings, sources=sources_of(t.name for t in first.tasks))
    parts = {"validation": splits.valid, **splits.tests}
    outputs = {c: {p: r.predict([x.window for x in part]) for p, part in parts.items()} for c, r in recipes.items()}
    if ensemble:
        outputs["ensemble of " + ", ".join(checkpoints)] = {
            p: mean_probabilities([outputs[c][p] for c in checkpoints]) for p in parts}
    for name, out in outputs.items():
        for rule, bias in rules(first.tasks, splits.train, splits.valid, out["validation"]).items():
            cells = [summary(evaluate_outputs(first.tasks, out[p], splits.tests[p], bias)) for p in splits.tests]
            print(f"{name}  {rule:10s} " + "  |  ".join(cells), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("mode", choices=["folds", "heldout"])
    parser.add_argument("paths", nargs="+", help="folds: --save-folds DIRs; heldout: checkpoints")
    parser.add_argument("--data", default="../shared/data")
    parser.add_argument("-k", type=int, default=5)
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--ensemble", action="store_true")
    args = parser.parse_args()
    if args.mode == "folds":
        study_folds(args.paths, args.data, args.k, args.seed, args.ensemble)
    else:
        study_heldout(args.paths, args.data, args.ensemble)


if __name__ == "__main__":
    main()
