"""`empathy-score`: a click group whose default command is `score` (`empathy-score logs.jsonl`).

Exit codes: 0 ok, 1 a gate failed, 2 usage, 3 bad input, 4 model/runtime.
"""
from __future__ import annotations

import sys

import click

from .. import __version__


class DefaultToScore(click.Group):
    """`empathy-score FILE ...` means `empathy-score score FILE ...`."""

    def parse_args(self, ctx, args):
        if args and args[0] not in self.commands and args[0] not in ("--help", "-h", "--version"):
            args = ["score", *args]
        return super().parse_args(ctx, args)


@click.group(cls=DefaultToScore, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="empathy-score")
def cli():
    """Score expressed and perceived empathy of the agent turns in dialogue logs.

    \b
    empathy-score logs.jsonl                 # = empathy-score score logs.jsonl
    empathy-score score logs.jsonl -o turns.jsonl -o summary.json
    empathy-score metrics                    # metric names and their directions
    """


def _register():
    from . import commands  # noqa: F401  (defines the subcommands on `cli`)


_register()


def main(argv=None):
    try:
        cli.main(args=argv, prog_name="empathy-score", standalone_mode=True)
    except KeyboardInterrupt:
        click.echo("interrupted", err=True)
        sys.exit(130)


if __name__ == "__main__":
    # `python -m empathy_metric.cli.main` runs this file as `__main__`, a second copy whose `cli` has
    # no subcommands (they register on the package module): run the package module's main.
    from empathy_metric.cli.main import main as package_main
    package_main()
