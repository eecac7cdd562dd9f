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
        click.option("--workers", type=click.IntRange(min=1), default=usable_cores, show_default="usable cores",
                     help="Processes that score chunks of dialogues (each loads the model; ONNX Runtime "
                          "threads are shared out among them). Output is identical for any number; input "
                          "that fits one chunk is scored in this process."),
    ]
    for option in reversed(options):
        command = option(command)
    return command


def usable_cores() -> int:
    from ..pipeline.parallel import usable_cores
    return usable_cores()


def load_scorer(model: str | None, agent_roles, no_future_context: bool, device: str, threads: int | None,
                max_batch_tokens: int, batch_size: int, workers: int = 1):
    """The `runtime_options` values -> a Scorer of `model` (the shipped one when None)."""
    from ..api import Scorer
    return Scorer.from_pretrained(model, device=device, threads=threads, max_batch_tokens=max_batch_tokens,
                                  max_batch_size=batch_size, agent_roles=agent_roles,
                                  future_context=not no_future_context, workers=workers)
