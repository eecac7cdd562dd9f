"""Options of every command that runs the model on dialogue logs: context, device, threads, batches."""
from __future__ import annotations

import click


def runtime_options(command):
    """How the model runs (never what it gives: results do not depend on batches or threads)."""
    options = [
        click.option("--no-future-context", is_flag=True,
                     help="Score with previous turns only (real-time use)."),
        click.option("--device", type=click.Choice(["cpu", "cuda"]), default="cpu", show_default=True),
        click.option("--threads", type=click.IntRange(min=1), help="ONNX Runtime threads (default: all cores)."),
        click.option("--max-batch-tokens", type=click.IntRange(min=1), default=16384, show_default=True,
                     help="Token budget of one batch (padded length x rows)."),
        click.option("--batch-size", type=click.IntRange(min=1), default=128, show_default=True,
                     help="Most windows per batch."),
    ]
    for option in reversed(options):
        command = option(command)
    return command


def load_scorer(model: str | None, agent_roles, no_future_context: bool, device: str, threads: int | None,
                max_batch_tokens: int, batch_size: int):
    """The `runtime_options` values -> a Scorer of `model` (the shipped one when None)."""
    from ..api import Scorer
    return Scorer.from_pretrained(model, device=device, threads=threads, max_batch_tokens=max_batch_tokens,
                                  max_batch_size=batch_size, agent_roles=agent_roles,
                                  future_context=not no_future_context)
