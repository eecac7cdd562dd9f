"""The training side's commands (extra `train`): `train`, `cv`, `cv-merge`, `average`, `eval`,
`fit-rates` and `zero-shot`. `empathy-score` finds them by name (cli/main.py) and imports this module only when one is
run; its top level imports click and the CLI's shared options, nothing heavy.

What a run trains is a recipe file (training/config.py, `--config`), not a row of options: these
commands keep only where the data is, where results go, and a few per-run switches.
"""
from __future__ import annotations

import functools
import json
from pathlib import Path

import click

from ..cli.gate_options import bootstrap_options, bootstrap_settings
from ..cli.score_cmd import run_score, score_options

DATA_FILES = {"esconv": ("esconv/train.json", "esconv/valid.json"), "emh": ("emh",),
              "wassa": ("wassa23/train_context_w1.txt", "wassa23/dev_context_w1.txt")}


def log(message: str) -> None:
    """Training progress goes to stderr (stdout holds the result tables)."""
    click.echo(message, err=True)


def data_option(command):
    return click.option("--data", "data_dir", required=True, type=click.Path(file_okay=False),
                        help="Folder laid out like the project's shared data: esconv/train.json, "
                             "esconv/valid.json, emh/*.csv, wassa23/.")(command)


def recipe_options(command):
    """--config, --set and the few recipe keys a command line may override; the command gets one
    `recipe` argument, the resolved values (training/config.py)."""
    options = [
        click.option("--config", "config_file", metavar="RECIPE",
                     help="Recipe file (TOML), or the name of a shipped recipe (e.g. minilm-empathy-v4). "
                          "Keys not set there keep the defaults of recipes/default.toml."),
        click.option("--set", "sets", multiple=True, metavar="KEY=VALUE",
                     help="Override one recipe key for this run (repeatable), e.g. --set epochs=3."),
        click.option("--data-set", "data_sets", type=click.Choice(["esconv", "emh", "wassa"]), multiple=True,
                     help="Train on these data sets only, with their heads only (repeatable; overrides the "
                          "recipe's data_sets). Splits and folds stay those of the multi-set runs."),
        click.option("--device", type=click.Choice(["auto", "cpu", "cuda"]), help="Overrides the recipe's device."),
        click.option("--seed", type=int, help="Overrides the recipe's seed."),
        click.option("--max-steps", type=int, help="Stop after this many steps (smoke tests)."),
    ]

    def resolve(function):
        @functools.wraps(function)
        def wrapper(*args, config_file, sets, data_sets, device, seed, max_steps, **kwargs):
            from .config import load_recipe
            recipe = load_recipe(config_file, sets, data_sets=list(data_sets) or None, device=device, seed=seed,
                                 max_steps=max_steps)
            return function(*args, recipe=recipe, **kwargs)
        return wrapper
    command = resolve(command)
    for option in reversed(options):
        command = option(command)
    return command


def calibration_option(command):
    return click.option(                                   # the choices are calibration.RULES
        "--calibration", type=click.Choice(["prior", "search", "none"]), default="prior", show_default=True,
        help="Per-class logit offsets fitted on the validation split for the rare classes: prior = "
             "-tau * log(training prior), one tau per task; search = a free offset per class.")(command)


def check_data(data_dir: str, data_sets=tuple(DATA_FILES)) -> None:
    from ..errors import UsageError
    data = Path(data_dir)
    missing = [p for s in data_sets for p in DATA_FILES[s] if not (data / p).exists()]
    if missing:
        raise UsageError(f"--data {data_dir}: missing {', '.join(missing)} (expected esconv/train.json, "
                         "esconv/valid.json, emh/*.csv and wassa23/ as in the project's shared data)")


@click.command()
@click.option("-o", "--out", "out_dir", required=True, help="Folder for the trained checkpoint + eval.json.")
@data_option
@recipe_options
def train(out_dir, data_dir, recipe):
    """Train the recipe with the default splits; report on the held-out splits (ESConv valid.json,
    15% of EMH, WASSA dev) and save the calibrated checkpoint."""
    from .config import recipe_factory
    from .experiment import default_splits, run_experiment
    data_sets = recipe["data_sets"]
    check_data(data_dir, data_sets)
    make, settings = recipe_factory(recipe, log)
    run_experiment(make(), default_splits(data_dir, settings, recipe["valid_split_seed"], data_sets, log), out_dir,
                   calibration=recipe["calibration"], rates=recipe["rates"], log=log,
                   split_info={"valid_seed": recipe["valid_split_seed"], "data_sets": list(data_sets)},
                   recipe_values=recipe)


@click.command()
@click.option("-k", "--folds", type=int, default=5, show_default=True)
@click.option("-o", "--out", "out_json", required=True, help="JSON report of every fold and the means.")
@data_option
@click.option("--fold", "only_folds", type=int, multiple=True,
              help="Run only this fold (1..k; repeatable), e.g. one process per fold on a GPU; join the "
                   "reports with `empathy-score cv-merge`.")
@click.option("--save-folds", "save_dir", help="Keep each fold's checkpoint in DIR/fold-<i> (for --average-from).")
@click.option("--average-from", "soup_dirs", multiple=True,
              help="Train nothing: in each fold, average the checkpoints DIR/fold-<i> of these --save-folds "
                   "folders (a model soup, cross-validated). Repeat for each run.")
@recipe_options
def cv(folds, out_json, data_dir, only_folds, save_dir, soup_dirs, recipe):
    """Dialogue-level k-fold cross-validation of the recipe on ESConv train+valid and all EMH pairs (the
    paper's protocol)."""
    from ..errors import UsageError
    from .config import recipe_factory
    from .experiment import cross_validate, cv_windows
    check_data(data_dir)
    bad = [f for f in only_folds if not 1 <= f <= folds]
    if bad:
        raise UsageError(f"--fold {bad[0]}: folds are numbered 1..{folds}")
    only = {f - 1 for f in only_folds} or None
    if soup_dirs:
        from ..pipeline.windows import WindowSettings
        from .encoder_recipe import EncoderRecipe
        from .model import checkpoint_config
        first = Path(soup_dirs[0]) / f"fold-{min(only or {0})}"
        settings = WindowSettings.from_dict(checkpoint_config(str(first))["window"])

        def make(fold):
            return EncoderRecipe.averaged([str(Path(d) / f"fold-{fold}") for d in soup_dirs], log)
    else:
        factory, settings = recipe_factory(recipe, log)

        def make(fold):       # a fold's teacher never saw that fold's test part
            return factory([str(Path(d) / f"fold-{fold}") for d in recipe["teachers"]])
    report = cross_validate(make, cv_windows(data_dir, settings, recipe["data_sets"], log), folds,
                            calibration=recipe["calibration"], log=log, only=only, save_dir=save_dir,
                            trained=bool(soup_dirs))
    if soup_dirs:
        report["averaged_from"] = list(soup_dirs)
    else:
        report["recipe"] = recipe
    _write_cv_report(report, out_json)


@click.command("cv-merge")
@click.argument("reports", nargs=-1, required=True)
@click.option("-o", "--out", "out_json", required=True, help="JSON report of all the folds and the means.")
def cv_merge(reports, out_json):
    """Join `cv --fold` REPORTS of one k-fold split into one report (means over all their folds)."""
    from .experiment import merge_cv_reports
    loaded = [_cv_report(r) for r in reports]
    merged = merge_cv_reports(loaded)
    extra = {k: v for r in loaded for k, v in r.items() if k in ("averaged_from", "recipe")}
    _write_cv_report({**merged, **extra}, out_json)


def _cv_report(path: str) -> dict:
    from ..errors import InputError
    try:
        report = json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise InputError(f"cannot open: {exc.strerror}", source=path) from None
    except ValueError as exc:
        raise InputError(f"not valid JSON ({exc})", source=path) from None
    if not isinstance(report, dict) or not {"k", "seed", "folds"} <= report.keys():
        raise InputError("not a report of `empathy-score cv`", source=path)
    return report


def _write_cv_report(report: dict, out_json: str) -> None:
    from .metrics import format_table
    Path(out_json).write_text(json.dumps(report, indent=2))
    done = "" if "missing_folds" not in report else \
        f" ({len(report['folds'])} of {report['k']} folds; missing {[f + 1 for f in report['missing_folds']]})"
    click.echo(format_table({f"{report['k']}-fold CV{done}: {g}": m for g, m in report["means"].items()}))


@click.command()
@click.argument("checkpoints", nargs=-1, required=True)
@click.option("-o", "--out", "out_dir", required=True, help="Folder for the averaged checkpoint + eval.json.")
@data_option
@click.option("--valid-split-seed", type=int, default=2027, show_default=True,
              help="Seed of the validation split the checkpoints were trained with (calibration only).")
@click.option("--greedy", is_flag=True, help="Greedy soup: add checkpoints best first, keeping each only "
                                            "if the uncalibrated validation score does not drop.")
@calibration_option
def average(checkpoints, out_dir, data_dir, valid_split_seed, greedy, calibration):
    """Average encoder CHECKPOINTS trained from one base model into one model (a "model soup"),
    calibrate it on the validation split and report it like `train` does."""
    from ..errors import UsageError
    from ..pipeline.windows import WindowSettings
    from .encoder_recipe import EncoderRecipe
    from .experiment import default_splits, run_experiment, sources_of, validation_score
    from .model import checkpoint_config
    check_data(data_dir)
    if len(checkpoints) < 2:
        raise UsageError("averaging needs at least two checkpoints")
    chosen, history = list(checkpoints), {"averaged_from": list(checkpoints)}
    config = checkpoint_config(checkpoints[0])
    splits = default_splits(data_dir, WindowSettings.from_dict(config["window"]), valid_split_seed,
                            sources_of(t["name"] for t in config["tasks"]))
    if greedy:
        from .soup import greedy_soup

        def score(subset):
            recipe = EncoderRecipe.averaged(subset, log)
            outputs = recipe.predict([x.window for x in splits.valid])
            return validation_score(recipe.tasks)(outputs, splits.valid)
        chosen, trail = greedy_soup(chosen, score, log)
        history = {"averaged_from": chosen, "greedy": trail}
    run_experiment(EncoderRecipe.averaged(chosen, log), splits, out_dir, calibration=calibration, log=log,
                   split_info={"valid_seed": valid_split_seed}, history=history)


@click.command(name="eval")
@click.option("-m", "--model", help="Bundle folder or shipped model name (default: the shipped model).")
@click.option("--data", "data_dir", type=click.Path(file_okay=False),
              help="Folder laid out like the project's shared data: evaluates the default held-out splits "
                   "(ESConv valid.json, the 15% EMH pairs held out from training, WASSA dev) and the "
                   "perceived scores' validity. Needed unless --heldout is given.")
@click.option("--heldout", type=click.Path(exists=True, dir_okay=False), multiple=True,
              help="Evaluate on this ESConv-format file instead of the default splits (repeatable).")
@click.option("-o", "--out", "out_json", help="Write the full report as JSON.")
@click.option("--record-validity", is_flag=True,
              help="Write each metric's measured validity into the bundle's manifest.json (`validity`), "
                   "which `metrics` shows and gates read. Needs --data (the default held-out splits).")
@click.option("--record-references", is_flag=True,
              help="Score the reference releases (ESConv valid.json answered by its real supporters, a canned, "
                   "a curt, an off-topic, a generic-questions, a generic-sympathy and a repetitive bot) and the rating scale of each perceived dimension, and write "
                   "them into the bundle's manifest.json (`references`), which `metrics` and every report "
                   "show. Needs --data. Given alone (no -o, no --record-validity), nothing else is evaluated.")
@click.option("--device", type=click.Choice(["cpu", "cuda"]), default="cpu", show_default=True)
@click.option("--threads", type=int)
@bootstrap_options
def evaluate(model, data_dir, heldout, out_json, record_validity, record_references, device, threads, n_resamples,
             confidence, seed):
    """Score held-out human-labelled data with a bundle: macro-P/R/F1 and accuracy per label with a
    bootstrap CI (resampling dialogues) of each data set's mean macro-F1; every rate metric's corpus bias
    and dialogue-level r; the perceived scores' validity and perturbation suite."""
    from ..errors import UsageError
    from .experiment import evaluate_bundle, format_evaluation
    if not data_dir and not heldout:
        raise UsageError("give --data DIR (the default held-out splits) or --heldout FILE")
    if record_validity and (heldout or not data_dir):
        raise UsageError("--record-validity measures on the default held-out splits: give --data, not --heldout")
    if record_references and not data_dir:
        raise UsageError("--record-references measures on the shared data: give --data")
    bootstrap = bootstrap_settings(n_resamples, confidence, seed)
    if record_references:
        _record_references(model, data_dir, device, threads, bootstrap)
        if not (record_validity or out_json or heldout):
            return
    report = evaluate_bundle(model, data_dir, list(heldout), device, threads, bootstrap, log)
    click.echo(format_evaluation(report))
    if out_json:
        Path(out_json).write_text(json.dumps(report, indent=2))
    if record_validity:
        from ..bundle import load_bundle, record_manifest_key
        from .validity_record import validity_block
        bundle = load_bundle(model)
        command = f"empathy-score eval -m {model or bundle.name} --data {data_dir} --record-validity"
        record_manifest_key(bundle.path, "validity", validity_block(report, command))
        log(f"validity recorded in {bundle.path / 'manifest.json'}")


def _record_references(model, data_dir, device, threads, bootstrap) -> None:
    from ..api import Scorer
    from ..bundle import record_manifest_key
    from .references import measure_references
    scorer = Scorer.from_pretrained(model, device=device, threads=threads)
    block = measure_references(scorer, data_dir, bootstrap, log)
    name = model or scorer.bundle.name
    block["measured_with"] = f"empathy-score eval -m {name} --data {data_dir} --record-references"
    record_manifest_key(scorer.bundle.path, "references", block)
    log(f"references recorded in {scorer.bundle.path / 'manifest.json'}")


@click.command("fit-rates")
@click.argument("bundle_dir", type=click.Path(exists=True, file_okay=False))
@data_option
@click.option("--estimator", type=click.Choice(["cc", "pcc", "acc"]), required=True,
              help="cc: share of argmax labels; pcc: mean probability after vector scaling; acc: shares "
                   "adjusted by the confusion matrix (pipeline/quantification.py).")
def fit_rates_command(bundle_dir, data_dir, estimator):
    """Fit how an exported bundle estimates label rates, on the validation split of --data with the
    bundle's own graph (the logits users get), and write them into its manifest's tasks. Training
    does this with the recipe key `rates`; this command does it for a bundle trained without."""
    from ..bundle import load_bundle, record_manifest_key
    from ..runtime import load_backend
    from .experiment import default_splits, tasks_with_rates
    bundle = load_bundle(bundle_dir)
    valid = default_splits(data_dir, bundle.window, sources=("esconv", "emh"), log=log).valid
    backend = load_backend(bundle)
    tasks = tasks_with_rates(bundle.tasks, lambda windows: backend.predict(windows).outputs, valid, estimator)
    record_manifest_key(bundle.path, "tasks", [t.to_dict() for t in tasks])
    log(f"{estimator} rates fitted on {len(valid)} validation windows; recorded in {bundle.path / 'manifest.json'}")


@click.command("zero-shot")
@click.argument("checkpoint", type=click.Path(exists=True, file_okay=False))
@click.argument("inputs", nargs=-1, required=True)
@click.option("--no-instructions", is_flag=True, help="Ask without instructions (the paper's ablation).")
@score_options
def zero_shot(checkpoint, inputs, no_instructions, **options):
    """Score dialogue logs with a frozen seq2seq CHECKPOINT folder (e.g. Flan-T5 + tokenizer.json) asked
    the stored instructions, by rank classification, no training (the paper's prompting baseline).
    Options and outputs are those of `score`; a torch model scores in one process (--workers is
    not used)."""
    from .seq2seq.zero_shot import zero_shot_scorer

    def make_scorer(workers, **runtime):       # a torch model: scored in this process
        return zero_shot_scorer(checkpoint, instructions=not no_instructions, **runtime)
    run_score(make_scorer, inputs, **options)
