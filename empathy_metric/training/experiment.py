"""Architecture-independent experiments: the default data splits, train -> calibrate -> evaluate, and
dialogue-level k-fold cross-validation. A *recipe* is one architecture (encoder or seq2seq) behind:

    tasks: list[Task]
    fit(train: list[LabelledWindow], valid: list[LabelledWindow], score_fn) -> dict   # history
    predict(windows: list[Window]) -> {"logits.<task>": [n, labels], "perceived": [n, dims]?}
    set_calibration(bias: dict[str, list[float]]) -> None     # per-class logit offsets
    save(out_dir: Path, extra_config: dict) -> None

The parts live beside it: splits.py (the default splits and CV folds), heldout_scores.py (scores
of outputs against labels), cross_validation.py, bundle_evaluation.py (`empathy-score eval`); their
names are re-exported here for the commands, tests and research scripts that import them from here.
"""
from __future__ import annotations

import json
import time
from dataclasses import replace
from pathlib import Path

from ..schemas import Task
from .bundle_evaluation import evaluate_bundle, format_evaluation, rates_report  # noqa: F401 (re-exported)
from .cross_validation import cross_validate, cv_means, cv_report, merge_cv_reports  # noqa: F401
from .data import LabelledWindow
from .heldout_scores import calibration_offsets, evaluate_outputs, turn_correlations, validation_score  # noqa: F401
from .metrics import format_table
from .splits import (DATA_SETS, EMH_TEST_FRACTION, GROUPS, SPLIT_SEED, VALID_FRACTION,  # noqa: F401
                     VALID_SPLIT_SEED, DataSplits, cv_fold_splits, cv_windows, default_splits, sources_of, tasks_of)


def run_experiment(recipe, splits: DataSplits, out_dir: str, calibration: str = "prior", log=print,
                   split_info: dict | None = None, history: dict | None = None, recipe_values: dict | None = None,
                   rates: str = "cc") -> dict:
    """Train on splits.train, early-stop and calibrate on splits.valid, report on splits.tests, save.
    With `history` given, the recipe is already trained (an averaged model): no training step.
    `calibration` is a rule of calibration.RULES; `rates` the rate estimator fitted on the validation
    split after calibration (rate_validity.fit_rates); `recipe_values` (the recipe file's resolved
    values, config.py) are saved with the checkpoint."""
    started = time.time()
    log(f"windows: train {len(splits.train)}, validation {len(splits.valid)}, "
        + ", ".join(f"{k} {len(v)}" for k, v in splits.tests.items()))
    if history is None:
        history = recipe.fit(splits.train, splits.valid, validation_score(recipe.tasks))
    bias = calibration_offsets(recipe, calibration, splits.train, splits.valid)
    if bias:
        log(f"calibration offsets ({calibration}, validation split): {json.dumps(bias)}")
    report: dict = {"calibrated": bool(bias), "calibration": calibration, "uncalibrated": {}}
    for name, labelled in {**splits.tests, "validation": splits.valid}.items():
        outputs = recipe.predict([x.window for x in labelled])
        report[name] = evaluate_outputs(recipe.tasks, outputs, labelled, bias)
        report["uncalibrated"][name] = evaluate_outputs(recipe.tasks, outputs, labelled)["means"]
    recipe.set_calibration(bias)
    recipe.tasks = tasks_with_rates(recipe.tasks, recipe.predict, splits.valid, rates)
    out = Path(out_dir)
    recipe.save(out, {"training": history, "calibration_bias": bias, "calibration": calibration,
                      "seconds": time.time() - started,
                      "splits": {"emh_test_fraction": EMH_TEST_FRACTION, "valid_fraction": VALID_FRACTION,
                                 "seed": SPLIT_SEED, **(split_info or {})},
                      **({"recipe": recipe_values} if recipe_values else {})})
    (out / "eval.json").write_text(json.dumps(report, indent=2))
    log(format_table({f"{test}: {group}": means
                      for test in splits.tests for group, means in report[test]["means"].items()}))
    for test in splits.tests:
        for dim, r in report[test].get("perceived_turn_pearson", {}).items():
            log(f"{test}: perceived.{dim} turn-level Pearson r {r:.3f}")
    return report


def tasks_with_rates(tasks: list[Task], predict, valid: list[LabelledWindow], estimator: str) -> list[Task]:
    """The tasks with rate estimators fitted on the validation logits `predict(windows)` gives (the
    calibrated model's, or an exported bundle's); "cc", or no validation data, leaves them without."""
    if estimator == "cc" or not valid:
        return [replace(t, rates={}) for t in tasks]
    from .rate_validity import fit_rates
    outputs = predict([x.window for x in valid])
    return fit_rates(tasks, {t.name: outputs[f"logits.{t.name}"] for t in tasks}, [x.labels for x in valid],
                     estimator)
