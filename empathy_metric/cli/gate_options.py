"""Options shared by `score` and `compare`: bootstrap CIs and how gates judge."""
from __future__ import annotations

import click

from ..reporting.gating import GATE_ON, GateEvaluation
from ..reporting.statistics import DEFAULT_CONFIDENCE, DEFAULT_RESAMPLES, BootstrapSettings


def bootstrap_options(command):
    options = [
        click.option("--bootstrap", "n_resamples", type=click.IntRange(min=0), default=DEFAULT_RESAMPLES,
                     show_default=True,
                     help="Bootstrap resamples (of dialogues) for confidence intervals; 0 disables."),
        click.option("--ci", "confidence", type=click.FloatRange(0, 1, min_open=True, max_open=True),
                     default=DEFAULT_CONFIDENCE, show_default=True, help="Confidence level of the CIs."),
        click.option("--seed", type=int, default=0, show_default=True,
                     help="Seed of the bootstrap (same seed + same data = same CIs)."),
    ]
    for option in reversed(options):
        command = option(command)
    return command


def gate_on_options(command):
    options = [
        click.option("--gate-on", type=click.Choice(GATE_ON), default="ci", show_default=True,
                     help="Judge each gate on the bound of its CI on the failing side (the lower bound "
                          "for a floor, the upper for a ceiling or a drop) or on the point estimate."),
        click.option("--min-dialogues", type=click.IntRange(min=1), default=1, show_default=True,
                     help="A gate judged on fewer dialogues fails (refuses to pass on too little data)."),
    ]
    for option in reversed(options):
        command = option(command)
    return command


def bootstrap_settings(n_resamples: int, confidence: float, seed: int) -> BootstrapSettings | None:
    return BootstrapSettings(n_resamples, confidence, seed) if n_resamples else None


def echo_verdicts(evaluation: GateEvaluation | None) -> None:
    for result in evaluation.results if evaluation else []:
        click.echo(result.line(), err=True)
