"""Architecture-independent experiments: the default data splits, train -> calibrate -> evaluate, and
dialogue-level k-fold cross-validation. A *recipe* is one architecture (encoder or seq2seq) behind:

    tasks: list[Task]
    fit(train: list[LabelledWindow], valid: list[LabelledWindow], score_fn) -> dict   # history
    predict(windows: list[Window]) -> {"logits.<task>": [n, labels], "perceived": [n, dims]?}
    set_calibration(bias: dict[str, list[float]]) -> None     # per-class logit offsets
    save(out_dir: Path, extra_config: dict) -> None

Splits (all by dialogue; seeded hashes, independent of file order):
- ESConv train.json: 90% training, 10% validation (early stopping, calibration);
- EMH pairs: 15% held out for reporting (grouped by seeker post), the rest split 90/10 like ESConv;
- ESConv valid.json: reporting only;
- WASSA 2023 train file: 90% training, 10% validation (by conversation); its dev file: reporting only.
"""
from __future__ import annotations

import json
import time
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from ..pipeline.windows import WindowSettings
from ..schemas import PERCEIVED_DIMENSIONS, Task
from .calibration import apply_bias, fit_offsets
from .data import LabelledWindow, emh_windows, esconv_windows, holdout_split, kfold_splits
from .evaluation import classification_report, grouped_means, perceived_dialogue_report
from .metrics import format_table
from .wassa import wassa_windows

EMH_TEST_FRACTION, VALID_FRACTION, SPLIT_SEED = 0.15, 0.10, 2026
# The validation split must use its own seed: with SPLIT_SEED, every EMH pair kept for training has
# a hash >= 0.15, so none fell under 0.10 and validation held no EMH pair (minilm-empathy-v1 was
# trained that way; `--valid-split-seed 2026` reproduces it).
VALID_SPLIT_SEED = 2027
GROUPS = {"ESConv": ["esconv_strategy"],
          "EMH": ["emh_emotional_reactions", "emh_interpretations", "emh_explorations"],
          "WASSA": []}                              # WASSA labels perceived empathy only
DATA_SETS = {"esconv": "ESConv", "emh": "EMH", "wassa": "WASSA"}   # LabelledWindow.source -> its group


@dataclass
class DataSplits:
    train: list[LabelledWindow]
    valid: list[LabelledWindow]
    tests: dict[str, list[LabelledWindow]]      # report name -> held-out windows


def default_splits(data_dir: str, settings: WindowSettings, valid_seed: int = VALID_SPLIT_SEED,
                   sources=tuple(DATA_SETS), log=None) -> DataSplits:
    """The default splits of the data sets in `sources`. Splits hash groups, so a data set keeps the
    same train/validation/test windows whether or not the other one is loaded too."""
    data = Path(data_dir)
    esconv = esconv_windows(str(data / "esconv" / "train.json"), settings) if "esconv" in sources else []
    emh, emh_test = holdout_split(emh_windows(str(data / "emh"), settings, log), EMH_TEST_FRACTION, SPLIT_SEED) \
        if "emh" in sources else ([], [])
    wassa = wassa_windows(data / "wassa23", "train", settings, list(PERCEIVED_DIMENSIONS)) \
        if "wassa" in sources else []
    train, valid = holdout_split(esconv + emh + wassa, VALID_FRACTION, valid_seed)
    tests = {}
    if "esconv" in sources:
        tests["esconv_valid"] = esconv_windows(str(data / "esconv" / "valid.json"), settings)
    if "emh" in sources:
        tests["emh_test"] = emh_test
    if "wassa" in sources:
        tests["wassa_dev"] = wassa_windows(data / "wassa23", "dev", settings, list(PERCEIVED_DIMENSIONS))
    return DataSplits(train, valid, tests)


def sources_of(task_names) -> list[str]:
    """The data sets that label any of these tasks (what a trained model can be evaluated on)."""
    names = set(task_names)
    return [source for source, group in DATA_SETS.items() if names & set(GROUPS[group])]


def tasks_of(tasks: list[Task], sources) -> list[Task]:
    """The tasks that the data sets in `sources` label (a model per data set, as in the paper)."""
    names = {name for source in sources for name in GROUPS[DATA_SETS[source]]}
    return [t for t in tasks if t.name in names]


def cv_windows(data_dir: str, settings: WindowSettings, sources=tuple(DATA_SETS), log=None) -> list[LabelledWindow]:
    """What cross-validation splits: ESConv train+valid and all EMH pairs (of the data sets in `sources`).
    Folds hash dialogue ids, so each data set's folds are the same with or without the other."""
    data = Path(data_dir)
    found = []
    if "esconv" in sources:
        found += (esconv_windows(str(data / "esconv" / "train.json"), settings)
                  + esconv_windows(str(data / "esconv" / "valid.json"), settings))
    if "emh" in sources:
        found += emh_windows(str(data / "emh"), settings, log)
    return found


def cv_fold_splits(labelled: list[LabelledWindow], k: int = 5, seed: int = SPLIT_SEED):
    """(fold, train, validation, test) for each fold: the split `cross_validate` trains and reports on."""
    for fold, (rest, test) in enumerate(kfold_splits(labelled, k, seed)):
        train, valid = holdout_split(rest, VALID_FRACTION, seed + fold + 1)
        yield fold, train, valid, test


def validation_score(tasks: list[Task]):
    """Early-stopping score: mean over data sets of the mean macro-F1 over labels, and of the Pearson r
    of each rated perceived dimension with its turn-level ratings (WASSA empathy)."""
    def score(outputs: dict, labelled: list) -> float:
        logits = {t.name: outputs[f"logits.{t.name}"] for t in tasks}
        reports = classification_report(tasks, logits, [x.labels for x in labelled])
        values = [m["f1"] for m in grouped_means(reports, GROUPS).values()]
        values += [r for r in turn_correlations(outputs, labelled).values()]
        return float(np.mean(values)) if values else 0.0
    return score


def turn_correlations(outputs: dict, labelled: list, source: str = "wassa") -> dict[str, float]:
    """Pearson r of each perceived dimension with its turn-level ratings, on `source`'s windows."""
    rows = [i for i, x in enumerate(labelled) if x.source == source]
    if "perceived" not in outputs or not rows:
        return {}
    found = {}
    for k, dim in enumerate(PERCEIVED_DIMENSIONS[:outputs["perceived"].shape[1]]):
        truth = np.array([labelled[i].perceived[k] for i in rows], dtype=np.float64)
        known = ~np.isnan(truth)
        if known.sum() > 2:
            found[dim] = float(np.corrcoef(outputs["perceived"][rows][known, k], truth[known])[0, 1])
    return found


def evaluate_outputs(tasks: list[Task], outputs: dict, labelled: list[LabelledWindow],
                     bias: dict | None = None) -> dict:
    logits = {t.name: outputs[f"logits.{t.name}"] for t in tasks}
    if bias:
        logits = apply_bias(logits, bias)
    reports = classification_report(tasks, logits, [x.labels for x in labelled])
    result = {"tasks": reports, "means": grouped_means(reports, GROUPS)}
    correlations = turn_correlations(outputs, labelled)
    if correlations:
        result["perceived_turn_pearson"] = correlations
    if "perceived" in outputs:
        rows = [i for i, x in enumerate(labelled) if x.source == "esconv" and not np.isnan(x.perceived).all()]
        if rows:
            result["perceived"] = perceived_dialogue_report(
                list(PERCEIVED_DIMENSIONS), outputs["perceived"][rows], [labelled[i].group for i in rows],
                np.stack([labelled[i].perceived for i in rows]))
    return result


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
    bias = _calibration_offsets(recipe, calibration, splits.train, splits.valid)
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


def evaluate_bundle(model: str | None, data_dir: str | None, heldout: list[str], device: str = "cpu",
                    threads: int | None = None, bootstrap=None, log=None) -> dict:
    """A bundle's agreement with human labels on the default held-out splits of `data_dir` (or on the
    ESConv-format `heldout` files): macro-P/R/F1 per label, a bootstrap CI of each data set's mean
    macro-F1 (resampling dialogues; `bootstrap` is a statistics.BootstrapSettings or None), and for
    bundles with perceived scores their validity (perceived_validity.py)."""
    from ..bundle import load_bundle
    from ..reporting.statistics import BootstrapSettings
    from ..runtime import load_backend
    from .evaluation import grouped_f1_intervals
    bundle = load_bundle(model)
    backend = load_backend(bundle, device, threads)
    if heldout:
        tests = {Path(p).name: esconv_windows(p, bundle.window) for p in heldout}
    else:
        tests = default_splits(data_dir, bundle.window, log=log).tests
    report = {"model": bundle.signature(), "bootstrap": bootstrap.to_dict() if bootstrap else None}
    for name, labelled in tests.items():
        raw = backend.predict([x.window for x in labelled])
        report[name] = evaluate_outputs(bundle.tasks, raw.outputs, labelled)
        if bootstrap:
            logits = {t.name: raw.outputs[f"logits.{t.name}"] for t in bundle.tasks}
            report[name]["f1_intervals"] = grouped_f1_intervals(
                bundle.tasks, logits, [x.labels for x in labelled], [x.group for x in labelled], GROUPS, bootstrap)
        report[name]["rates"] = rates_report(bundle.tasks, raw.outputs, labelled, bootstrap or BootstrapSettings())
    if bundle.perceived and not heldout:
        from .perceived_validity import validity_report
        report["perceived_validity"] = validity_report(
            lambda windows: backend.predict(windows).outputs["perceived"], data_dir, bundle.window,
            bundle.perceived, bootstrap or BootstrapSettings())
    return report


def rates_report(tasks: list[Task], outputs: dict, labelled: list[LabelledWindow], bootstrap) -> dict:
    """Every rate metric's corpus bias and dialogue-level r against the gold labels, with the bundle's
    own rate estimators (rate_validity.py)."""
    from ..pipeline.quantification import quantifier
    from .rate_validity import rate_validity
    found = {}
    for task in tasks:
        rows = [i for i, x in enumerate(labelled) if task.name in x.labels]
        if rows:
            found.update(rate_validity(task, outputs[f"logits.{task.name}"][rows],
                                       np.array([labelled[i].labels[task.name] for i in rows]),
                                       [labelled[i].group for i in rows], quantifier(task), bootstrap))
    return found


def format_evaluation(report: dict) -> str:
    """`evaluate_bundle`'s report as text: the Table-4 style table, the CIs, the perceived validity."""
    from .perceived_validity import format_validity
    tests = [name for name, part in report.items() if isinstance(part, dict) and "means" in part]
    rows, lines = {}, []
    for name in tests:
        for group, means in report[name]["means"].items():
            rows[f"{name}: {group} (mean over labels)"] = means
        for task in report[name]["tasks"].values():
            rows.update({f"{name}:   {label}": scores for label, scores in task["labels"].items()})
    for name in tests:
        for group, ci in report[name].get("f1_intervals", {}).items():
            lines.append(f"{name}: {group} mean macro-F1 {100 * report[name]['means'][group]['f1']:.1f}, "
                         f"{100 * ci['confidence']:.0f}% CI {100 * ci['low']:.1f}-{100 * ci['high']:.1f} "
                         f"({ci['n_dialogues']} dialogues resampled)")
    for name in tests:
        for metric, r in report[name].get("rates", {}).items():
            lines.append(f"{name}: {metric} corpus {r['predicted']:.3f} vs true {r['true']:.3f} (bias "
                         f"{r['bias']:+.3f} [{r['bias_ci'][0]:+.3f}, {r['bias_ci'][1]:+.3f}]), dialogue-level r "
                         f"{r['dialogue_r']:.2f} [{r['dialogue_r_ci'][0]:.2f}, {r['dialogue_r_ci'][1]:.2f}]")
    if "perceived_validity" in report:
        lines.append(format_validity(report["perceived_validity"]))
    return "\n".join([format_table(rows), *lines])


def _calibration_offsets(recipe, rule: str, train: list[LabelledWindow], valid: list[LabelledWindow]) -> dict:
    if rule == "none" or not valid:
        return {}
    outputs = recipe.predict([x.window for x in valid])
    return fit_offsets(rule, recipe.tasks, [x.labels for x in train],
                       {t.name: outputs[f"logits.{t.name}"] for t in recipe.tasks}, [x.labels for x in valid])


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
        bias = _calibration_offsets(recipe, calibration, train, valid)
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
