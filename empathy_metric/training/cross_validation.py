"""Dialogue-level k-fold cross-validation (the paper's protocol), and the merge of reports of
disjoint folds run apart (one per process on a GPU)."""
from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from .data import LabelledWindow
from .heldout_scores import calibration_offsets, evaluate_outputs, validation_score
from .splits import GROUPS, SPLIT_SEED, cv_fold_splits


def cross_validate(make_recipe, labelled: list[LabelledWindow], k: int = 5, seed: int = SPLIT_SEED,
                   calibration: str = "prior", log=print, only: set[int] | None = None,
                   save_dir: str | None = None, trained: bool = False) -> dict:
    """Dialogue-level k-fold CV (the paper's protocol). Each fold trains a fresh recipe,
    `make_recipe(fold)`, on the other folds (minus a 10% validation split for early stopping and
    calibration) and reports on its own fold.

    only: run just these folds (0-based), e.g. one per process on a GPU; `merge_cv_reports` joins them.
    save_dir: keep each fold's calibrated checkpoint in save_dir/fold-<i> (to average them later).
    trained: make_recipe gives recipes already trained for that fold (averaged checkpoints): no fit."""
    folds = []
    for fold, train, valid, test in cv_fold_splits(labelled, k, seed):
        if only is not None and fold not in only:
            continue
        started = time.time()
        recipe = make_recipe(fold)
        log(f"fold {fold + 1}/{k}: train {len(train)}, validation {len(valid)}, test {len(test)}")
        history = {} if trained else recipe.fit(train, valid, validation_score(recipe.tasks))
        bias = calibration_offsets(recipe, calibration, train, valid)
        outputs = recipe.predict([x.window for x in test])
        folds.append({"fold": fold, **evaluate_outputs(recipe.tasks, outputs, test, bias),
                      "uncalibrated": evaluate_outputs(recipe.tasks, outputs, test)["means"]})
        if save_dir:
            recipe.set_calibration(bias)
            recipe.save(Path(save_dir) / f"fold-{fold}",
                        {"training": history, "calibration_bias": bias, "calibration": calibration,
                         "seconds": time.time() - started,
                         "splits": {"cv_k": k, "cv_seed": seed, "cv_fold": fold}})
        log(f"fold {fold + 1}/{k} done in {time.time() - started:.0f} s: " + ", ".join(
            f"{g} {m['f1'] * 100:.1f}" for g, m in folds[-1]["means"].items()))
    return cv_report(k, seed, folds)


def cv_report(k: int, seed: int, folds: list[dict]) -> dict:
    numbers = {f["fold"] for f in folds}
    missing = sorted(set(range(k)) - numbers)
    return {"k": k, "seed": seed, "folds": folds, "means": cv_means(folds),
            **({"missing_folds": missing} if missing else {})}


def cv_means(folds: list[dict]) -> dict:
    """Mean (and spread over folds) of each data set's mean metrics."""
    means = {}
    for group in GROUPS:
        rows = [f["means"][group] for f in folds if group in f["means"]]
        if rows:
            means[group] = {m: float(np.mean([r[m] for r in rows]))
                            for m in ("precision", "recall", "f1", "accuracy")}
            means[group]["f1_std"] = float(np.std([r["f1"] for r in rows]))
    return means


def merge_cv_reports(reports: list[dict]) -> dict:
    """One report from reports of disjoint folds of the same k-fold split."""
    from ..errors import UsageError
    splits = {(r["k"], r["seed"]) for r in reports}
    if len(splits) != 1:
        raise UsageError(f"cannot merge reports of different splits (k, seed): {sorted(splits)}")
    folds = sorted((f for r in reports for f in r["folds"]), key=lambda f: f["fold"])
    numbers = [f["fold"] for f in folds]
    if len(set(numbers)) != len(numbers):
        raise UsageError(f"a fold appears in more than one report: folds {numbers}")
    k, seed = splits.pop()
    return cv_report(k, seed, folds)
