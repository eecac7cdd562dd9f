"""`empathy-score`: a click group whose default command is `score` (`empathy-score logs.jsonl`).

Commands are found by name and imported only when one is run (or its help is asked for): the
scoring commands live here in `cli/`, the training and export commands in `training/` and `export/`,
which this package never imports (import-linter checks it). Where a command's extra is not installed
(the scoring install has no torch), the command is still listed, and running it says which extra to
install (exit 2).

Exit codes: 0 ok, 1 a gate failed, 2 usage, 3 bad input, 4 model/runtime/output, 130 interrupted;
`LazyGroup.main` runs every command inside `exits.exit_codes`, the one place that maps failures.
"""
from __future__ import annotations

import difflib
import importlib
import importlib.util
import os
import signal
import sys
from dataclasses import dataclass

import click

from ..version import __version__
from .exits import EXIT_USAGE, Interrupted, ReaderGone, exit_codes, pop_debug, stop_signals_raise


@dataclass(frozen=True)
class LazyCommand:
    target: str                          # "module:attribute" of the click command
    short_help: str = ""                 # shown by `empathy-score --help` when the extra is missing
    extra: str | None = None             # the pip extra its imports need
    needs: tuple[str, ...] = ()          # top-level modules that extra installs


TRAIN_NEEDS = ("torch", "transformers", "safetensors", "sklearn")
EXPORT_NEEDS = TRAIN_NEEDS + ("onnx", "optimum")

COMMANDS = {
    "score": LazyCommand("empathy_metric.cli.score_cmd:score"),
    "compare": LazyCommand("empathy_metric.cli.compare_cmd:compare"),
    "metrics": LazyCommand("empathy_metric.cli.metrics_cmd:metrics"),
    "analyze": LazyCommand("empathy_metric.cli.analyze_cmd:analyze"),
    "gates": LazyCommand("empathy_metric.cli.gates_cmd:gates"),
    "train": LazyCommand("empathy_metric.training.commands:train", "Train a model on ESConv, EMH and WASSA.",
                         "train", TRAIN_NEEDS),
    "cv": LazyCommand("empathy_metric.training.commands:cv", "Dialogue-level k-fold cross-validation.",
                      "train", TRAIN_NEEDS),
    "cv-merge": LazyCommand("empathy_metric.training.commands:cv_merge", "Join `cv --fold` reports into one.",
                            "train", TRAIN_NEEDS),
    "average": LazyCommand("empathy_metric.training.commands:average",
                           "Average encoder checkpoints into one model (a model soup).", "train", TRAIN_NEEDS),
    "eval": LazyCommand("empathy_metric.training.commands:evaluate",
                        "A bundle's agreement with human labels, with CIs.", "train", TRAIN_NEEDS),
    "fit-rates": LazyCommand("empathy_metric.training.commands:fit_rates_command",
                             "Fit a bundle's label-rate estimators on the validation split.", "train",
                             TRAIN_NEEDS),
    "zero-shot": LazyCommand("empathy_metric.training.commands:zero_shot",
                             "Score with a frozen seq2seq checkpoint asked the stored instructions.",
                             "train", TRAIN_NEEDS),
    "export": LazyCommand("empathy_metric.export.commands:export",
                          "Export a trained checkpoint to a validated ONNX bundle.", "export", EXPORT_NEEDS),
}


def missing_modules(command: LazyCommand) -> list[str]:
    return [name for name in command.needs if importlib.util.find_spec(name) is None]


def missing_extra_command(name: str, command: LazyCommand, missing: list[str]) -> click.Command:
    """Stands in for a command whose extra is not installed: listed with its help, and when run (with
    any arguments, --help included) a one-line error naming the extra, exit 2."""
    def fail():
        click.echo(f"error: `empathy-score {name}` needs the '{command.extra}' extra (missing: "
                   f"{', '.join(missing)}): pip install 'empathy-metric[{command.extra}]'", err=True)
        sys.exit(EXIT_USAGE)
    return click.Command(name, callback=fail, help=command.short_help, short_help=command.short_help,
                         add_help_option=False,
                         context_settings={"ignore_unknown_options": True, "allow_extra_args": True})


def _misspelt_command(word: str) -> str | None:
    """The command `word` was probably meant to be, when it is no file and looks like no file name."""
    if word == "-" or word.startswith("-") or "." in word or os.sep in word or os.path.exists(word):
        return None
    close = difflib.get_close_matches(word, list(COMMANDS), n=1, cutoff=0.6)
    return close[0] if close else None


class LazyGroup(click.Group):
    """Commands imported by name on first use. `empathy-score FILE ...` means `empathy-score score FILE ...`."""

    def main(self, args=None, prog_name=None, **extra):
        """Always standalone (exits with the code of the outcome); `--debug` may come anywhere."""
        extra.pop("standalone_mode", None)
        debug, args = pop_debug(list(sys.argv[1:] if args is None else args))
        with exit_codes(debug), stop_signals_raise():
            outcome = super().main(args, prog_name, standalone_mode=False, **extra)
        sys.exit(outcome if isinstance(outcome, int) else 0)

    def list_commands(self, ctx):
        return list(COMMANDS)

    def get_command(self, ctx, name):
        command = COMMANDS.get(name)
        if command is None:
            return None
        missing = missing_modules(command)
        if missing:
            return missing_extra_command(name, command, missing)
        module_name, _, attribute = command.target.partition(":")
        return getattr(importlib.import_module(module_name), attribute)

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except BrokenPipeError as exc:
            raise ReaderGone() from exc
        except KeyboardInterrupt as exc:    # Ctrl-C, or SIGTERM / SIGHUP (exits.Stopped)
            raise Interrupted(getattr(exc, "signum", signal.SIGINT)) from exc

    def parse_args(self, ctx, args):
        if args and args[0] not in COMMANDS and args[0] not in ("--help", "-h", "--version"):
            meant = _misspelt_command(args[0])
            if meant:
                raise click.UsageError(f"no command or file '{args[0]}'; did you mean "
                                       f"`empathy-score {meant}`?", ctx)
            args = ["score", *args]
        return super().parse_args(ctx, args)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="empathy-score")
def cli():
    """Score expressed and perceived empathy of the agent turns in dialogue logs.

    \b
    empathy-score logs.jsonl                 # = empathy-score score logs.jsonl
    empathy-score score logs.jsonl -o turns.jsonl -o summary.json
    empathy-score metrics                    # metric names and their directions
    empathy-score analyze logs.jsonl --ratings ratings.csv   # metrics against your human ratings
    empathy-score gates suggest summary.json -o gates.toml   # gates from a baseline run

    \b
    Exit codes: 0 ok, 1 a gate failed, 2 usage, 3 bad input, 4 model/runtime/output, 130 interrupted.
    --debug (anywhere on the line) shows the traceback of an error.
    """


def main(argv=None):
    cli.main(args=argv, prog_name="empathy-score")


if __name__ == "__main__":
    main()
