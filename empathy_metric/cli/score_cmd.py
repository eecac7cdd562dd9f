"""`empathy-score score`: the main job. Its options and its run are shared with `zero-shot` (training
side), which scores the same way with another kind of model."""
from __future__ import annotations

import sys

import click

from .exits import EXIT_GATE_FAILED, reports_errors
from .gate_options import bootstrap_options, bootstrap_settings, echo_verdicts, gate_on_options
from .reader_options import input_options, reader_options
from .report import print_summary, progress_callback
from .runtime_options import runtime_options


def score_options(command):
    """Every option of `score` but the model: outputs, input layout, runtime, resume, CIs and gates."""
    options = [
        click.option("-o", "--output", "outputs", multiple=True,
                     help="Write results; format by extension: .jsonl (per turn), .csv (per turn), "
                          ".json (run summary), .junit.xml (gate verdicts). Repeatable."),
        input_options,
        runtime_options,
        click.option("-q", "--quiet", is_flag=True, help="No progress bar, no summary table."),
        click.option("--resume", is_flag=True,
                     help="Continue an interrupted run: keep the dialogues already in the -o .jsonl output, "
                          "score the rest and append them (refused if the model or settings differ)."),
        bootstrap_options,
        click.option("--fail-under", multiple=True, metavar="METRIC=VALUE",
                     help="Gate: fail (exit 1) when METRIC is below VALUE (repeatable)."),
        click.option("--fail-over", multiple=True, metavar="METRIC=VALUE",
                     help="Gate: fail (exit 1) when METRIC is above VALUE (repeatable)."),
        gate_on_options,
    ]
    for option in reversed(options):
        command = option(command)
    return command


def run_score(make_scorer, inputs, outputs, fmt, turns_key, role_key, text_key, id_key, agent_roles, on_error,
              no_future_context, device, threads, max_batch_tokens, batch_size, quiet, resume, n_resamples,
              confidence, seed, fail_under, fail_over, gate_on, min_dialogues):
    """The `score_options` values -> one `api.score_files` run, its summary and verdicts printed, the
    exit code of its gates. `make_scorer(device=, threads=, max_batch_tokens=, max_batch_size=,
    agent_roles=, future_context=)` loads the model."""
    from ..api import score_files
    from ..pipeline.aggregation import metric_names
    from ..reporting.gating import plan_gates, threshold_gates
    gates = threshold_gates(fail_under, fail_over)        # a malformed gate fails before any work
    bootstrap = bootstrap_settings(n_resamples, confidence, seed)
    options = reader_options(fmt, turns_key, role_key, text_key, id_key, agent_roles, on_error)
    scorer = make_scorer(device=device, threads=threads, max_batch_tokens=max_batch_tokens,
                         max_batch_size=batch_size, agent_roles=options.agent_roles,
                         future_context=not no_future_context)
    plan = plan_gates(gates, gate_on, min_dialogues, bootstrap, metric_names(scorer.tasks, scorer.perceived))
    with progress_callback(enabled=not quiet and sys.stderr.isatty()) as on_dialogue:
        result = score_files(scorer, list(inputs), options, list(outputs), on_dialogue,
                             bootstrap=bootstrap, gates=plan, resume=resume)
    if not quiet:
        print_summary(result.summary, to_stdout=not outputs)
    echo_verdicts(result.gates)
    if result.gates is not None and not result.gates.passed:
        sys.exit(EXIT_GATE_FAILED)


@click.command()
@click.argument("inputs", nargs=-1, required=True)
@click.option("-m", "--model", help="Bundle folder or shipped model name (default: the shipped model).")
@score_options
@reports_errors
def score(inputs, model, **options):
    """Score dialogue logs (JSONL, JSON, EMH CSV; '-' for stdin)."""
    from ..api import Scorer

    def make_scorer(**runtime):
        return Scorer.from_pretrained(model, **runtime)
    run_score(make_scorer, inputs, **options)
