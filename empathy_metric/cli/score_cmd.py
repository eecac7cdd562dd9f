"""`empathy-score score`: the main job."""
from __future__ import annotations

import sys

import click

from .exits import reports_errors
from .main import cli
from .reader_options import input_options, reader_options
from .report import print_summary, progress_callback


@cli.command()
@click.argument("inputs", nargs=-1, required=True)
@click.option("-m", "--model", help="Bundle folder or shipped model name (default: the shipped model).")
@click.option("-o", "--output", "outputs", multiple=True,
              help="Write results; format by extension: .jsonl (per turn), .csv (per turn), "
                   ".json (run summary). Repeatable.")
@input_options
@click.option("--no-future-context", is_flag=True,
              help="Score with previous turns only (real-time use).")
@click.option("--device", type=click.Choice(["cpu", "cuda"]), default="cpu", show_default=True)
@click.option("--threads", type=int, help="ONNX Runtime threads (default: all cores).")
@click.option("--max-batch-tokens", type=int, default=16384, show_default=True,
              help="Token budget of one batch (padded length x rows).")
@click.option("--batch-size", type=int, default=128, show_default=True, help="Most windows per batch.")
@click.option("-q", "--quiet", is_flag=True, help="No progress bar, no summary table.")
@reports_errors
def score(inputs, model, outputs, fmt, turns_key, role_key, text_key, id_key, agent_roles, on_error,
          no_future_context, device, threads, max_batch_tokens, batch_size, quiet):
    """Score dialogue logs (JSONL, JSON, EMH CSV; '-' for stdin)."""
    from ..scorer import Scorer
    from ..scoring_run import run_scoring
    options = reader_options(fmt, turns_key, role_key, text_key, id_key, agent_roles, on_error)
    scorer = Scorer.from_pretrained(model, device=device, threads=threads,
                                    max_batch_tokens=max_batch_tokens, max_batch_size=batch_size,
                                    agent_roles=options.agent_roles,
                                    future_context=not no_future_context)
    with progress_callback(enabled=not quiet and sys.stderr.isatty()) as on_dialogue:
        result = run_scoring(scorer, list(inputs), options, list(outputs), on_dialogue)
    if not quiet:
        print_summary(result.summary, to_stdout=not outputs)
