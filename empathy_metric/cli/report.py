"""What a person sees: a progress line on stderr, a summary table, and warnings."""
from __future__ import annotations

import contextlib
import sys

import click

from ..errors import OutputError


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


@contextlib.contextmanager
def stdout():
    """sys.stdout to write a result on. An OutputError when it was closed at start (`>&-`: Python
    then has none, and click and rich would drop the table without a word) or cannot be written
    (a full disk); a reader gone away (`| head`) stays a BrokenPipeError (cli/exits.py)."""
    if sys.stdout is None:
        raise OutputError("stdout is closed, so the table cannot be shown; write it to a file with "
                          "-o, or pass --quiet")
    try:
        yield sys.stdout
        sys.stdout.flush()
    except BrokenPipeError:
        raise
    except OSError as exc:
        raise OutputError(f"cannot write to stdout ({exc.strerror or exc})") from None


def print_table(*renderables) -> None:
    """Rich tables (or lines) on stdout. Rich's own answer to a broken pipe is exit 1, which is this tool's
    "gate failed": raised instead, to be mapped like any other."""
    from rich.console import Console

    class StdoutConsole(Console):
        def on_broken_pipe(self):
            raise BrokenPipeError
    with stdout() as out:
        console = StdoutConsole(file=out, soft_wrap=True)
        for renderable in renderables:
            console.print(renderable)


def _with_reasons(n: int, what: str, reasons: dict[str, int]) -> str:
    text = f"{n} {what}"
    if n:
        text += " (" + ", ".join(f"{reason} {count}" for reason, count in sorted(reasons.items())) + ")"
    return text


def counts_line(counts: dict, model: str) -> str:
    """`5 dialogues, 13 agent turns scored, 13 context turns, 1 turns skipped (non_dialogue_role 1),
    0 records skipped (model m)`; dialogues with nothing to score are named only when there are some."""
    parts = [f"{counts['dialogues_scored']} dialogues", f"{counts['turns_scored']} agent turns scored",
             f"{counts['turns_context']} context turns",
             _with_reasons(sum(counts["turns_skipped"].values()), "turns skipped", counts["turns_skipped"])]
    if counts["dialogues_skipped"]:
        parts.append(_with_reasons(sum(counts["dialogues_skipped"].values()), "dialogues with nothing to score",
                                   counts["dialogues_skipped"]))
    parts.append(_with_reasons(sum(counts["records_skipped"].values()), "records skipped", counts["records_skipped"]))
    return ", ".join(parts) + f" (model {model})"


def echo_warnings(counts: dict) -> None:
    """What a user would want to know before trusting the numbers: dialogues nothing was scored in."""
    unscored = counts["dialogues_skipped"]
    if unscored.get("no_agent_turn"):
        roles = ", ".join(f"{role} {n}" for role, n in sorted(counts["roles_not_scored"].items()))
        click.echo(f"warning: {unscored['no_agent_turn']} dialogue(s) have no agent turn, so nothing in them "
                   f"was scored; turns of roles not scored: {roles}. --agent-role ROLE scores a role.", err=True)
    if unscored.get("no_turns"):
        click.echo(f"warning: {unscored['no_turns']} record(s) hold no turns to score.", err=True)


def print_summary(summary: dict, to_stdout: bool) -> None:
    line = counts_line(summary["counts"], summary["signature"]["model"])
    if not to_stdout:
        click.echo(line, err=True)
        return
    from rich.table import Table
    table = Table(title="empathy-score: corpus aggregates (mean over dialogues)")
    table.add_column("metric")
    table.add_column("value" + ("  [CI]" if any("ci_low" in e for e in summary["corpus"].values()) else ""))
    for name, entry in summary["corpus"].items():
        table.add_row(name, _format_value(entry))
    print_table(table, line)
