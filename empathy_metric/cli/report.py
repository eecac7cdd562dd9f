"""What a person sees: a progress line on stderr and a summary table."""
from __future__ import annotations

import contextlib
import sys

import click


@contextlib.contextmanager
def progress_callback(enabled: bool):
    """Yields a callback(dialogues, turns); draws a rich progress line on stderr when enabled."""
    if not enabled:
        yield None
        return
    from rich.console import Console
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
    with Progress(SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(),
                  console=Console(stderr=True), transient=True) as progress:
        task = progress.add_task("scoring", total=None)

        def update(dialogues: int, turns: int) -> None:
            progress.update(task, description=f"scored {dialogues} dialogues, {turns} turns")
        yield update


def _format_value(entry: dict) -> str:
    text = f"{entry['mean']:.3f}"
    if "ci_low" in entry:
        text += f"  [{entry['ci_low']:.3f}, {entry['ci_high']:.3f}]"
    return text


def print_summary(summary: dict, to_stdout: bool) -> None:
    counts = summary["counts"]
    skipped = sum(counts["turns_skipped"].values())
    line = (f"{counts['dialogues_scored']} dialogues, {counts['turns_scored']} agent turns scored, "
            f"{counts['turns_context']} context turns, {skipped} turns skipped, "
            f"{sum(counts['records_skipped'].values())} records skipped "
            f"(model {summary['signature']['model']})")
    if not to_stdout:
        click.echo(line, err=True)
        return
    from rich.console import Console
    from rich.table import Table
    table = Table(title="empathy-score: corpus aggregates (mean over dialogues)")
    table.add_column("metric")
    table.add_column("value" + ("  [CI]" if any("ci_low" in e for e in summary["corpus"].values()) else ""))
    for name, entry in summary["corpus"].items():
        table.add_row(name, _format_value(entry))
    console = Console(file=sys.stdout, soft_wrap=True)
    console.print(table)
    console.print(line)
