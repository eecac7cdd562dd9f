"""`empathy-score score`: the main job."""
from __future__ import annotations

import sys

import click

from .exits import EXIT_GATE_FAILED, reports_errors
from .gate_options import (bootstrap_options, bootstrap_settings, echo_verdicts, gate_on_options,
                           gate_plan)
from .main import cli
from .reader_options import input_options, reader_options
from .report import print_summary, progress_callback


@cli.command()
@click.argument("inputs", nargs=-1, required=True)
@click.option("-m", "--model", help="Bundle folder or shipped model name (default: the shipped model).")
@click.option("--zero-shot", "zero_shot", metavar="CHECKPOINT",
              help="Score with a frozen seq2seq checkpoint folder (e.g. Flan-T5 + tokenizer.json) asked "
                   "the stored instructions, no training (the paper's prompting baseline; needs torch).")
@click.option("-o", "--output", "outputs", multiple=True,
              help="Write results; format by extension: .jsonl (per turn), .csv (per turn), "
                   ".json (run summary), .junit.xml (gate verdicts). Repeatable.")
@input_options
@click.option("--no-future-context", is_flag=True,
              help="Score with previous turns only (real-time use).")
@click.option("--device", type=click.Choice(["cpu", "cuda"]), default="cpu", show_default=True)
@click.option("--threads", type=int, help="ONNX Runtime threads (default: all cores).")
@click.option("--max-batch-tokens", type=int, default=16384, show_default=True,
              help="Token budget of one batch (padded length x rows).")
@click.option("--batch-size", type=int, default=128, show_default=True, help="Most windows per batch.")
@click.option("-q", "--quiet", is_flag=True, help="No progress bar, no summary table.")
@click.option("--resume", is_flag=True,
              help="Continue an interrupted run: keep the dialogues already in the -o .jsonl output, "
                   "score the rest and append them (refused if the model or settings differ).")
@bootstrap_options
@click.option("--fail-under", multiple=True, metavar="METRIC=VALUE",
              help="Gate: fail (exit 1) when METRIC is below VALUE (repeatable).")
@click.option("--fail-over", multiple=True, metavar="METRIC=VALUE",
              help="Gate: fail (exit 1) when METRIC is above VALUE (repeatable).")
@gate_on_options
@reports_errors
def score(inputs, model, zero_shot, outputs, fmt, turns_key, role_key, text_key, id_key, agent_roles, on_error,
          no_future_context, device, threads, max_batch_tokens, batch_size, quiet, resume, n_resamples,
          confidence, seed, fail_under, fail_over, gate_on, min_dialogues):
    """Score dialogue logs (JSONL, JSON, EMH CSV; '-' for stdin)."""
    from ..pipeline.aggregation import metric_names
    from ..api import Scorer
    from ..reporting.gating import threshold_gates
    from ..scoring_run import run_scoring
    gates = threshold_gates(fail_under, fail_over)        # a malformed gate fails before any work
    bootstrap = bootstrap_settings(n_resamples, confidence, seed)
    options = reader_options(fmt, turns_key, role_key, text_key, id_key, agent_roles, on_error)
    if zero_shot and model:
        from ..errors import UsageError
        raise UsageError("give either -m/--model or --zero-shot, not both")
    if zero_shot:
        from ..training.seq2seq.zero_shot import zero_shot_scorer
        scorer = zero_shot_scorer(zero_shot, device=device, threads=threads, max_batch_tokens=max_batch_tokens,
                                  max_batch_size=batch_size, agent_roles=options.agent_roles,
                                  future_context=not no_future_context)
    else:
        scorer = Scorer.from_pretrained(model, device=device, threads=threads,
                                        max_batch_tokens=max_batch_tokens, max_batch_size=batch_size,
                                        agent_roles=options.agent_roles,
                                        future_context=not no_future_context)
    plan = gate_plan(gates, gate_on, min_dialogues, bootstrap, metric_names(scorer.tasks, scorer.perceived))
    with progress_callback(enabled=not quiet and sys.stderr.isatty()) as on_dialogue:
        result = run_scoring(scorer, list(inputs), options, list(outputs), on_dialogue,
                             bootstrap=bootstrap, gates=plan, resume=resume)
    if not quiet:
        print_summary(result.summary, to_stdout=not outputs)
    echo_verdicts(result.gates)
    if result.gates is not None and not result.gates.passed:
        sys.exit(EXIT_GATE_FAILED)
