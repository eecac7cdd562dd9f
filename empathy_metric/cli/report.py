"""What a person sees on a terminal: progress on stderr (drawn by progress.py), and the tables of
`score` and `compare`, led by the headline (reporting/headline.py).

Tables stay readable at 80 columns: a metric name is never cut; names are grouped by prefix (the
prefix on its own row, then one row per last part), each metric has its better direction, the CI
level is in the header, and `compare` marks regressions and improvements in words as well as colour
(CI logs often have no colour).
"""
from __future__ import annotations

import contextlib
import sys
from typing import Callable

import click

from ..errors import OutputError
from ..reporting.headline import headline_text, ordered_metrics
from ..reporting.metric_catalog import HIGHER, LOWER, grouped
from .progress import TICK_S, EtaEstimator, PlainProgress, Ticker, bar_columns, plural

HEADLINE_WIDTH = 80             # the headline's reference points wrap to fit an 80-column terminal
BETTER = {HIGHER: "higher", LOWER: "lower"}
MARKS = {"regression": ("▼", "bold red"), "improvement": ("▲", "bold green")}


@contextlib.contextmanager
def progress_callback(quiet: bool, count_total: Callable[[], int | None]):
    """Yields a callback(records, dialogues, turns), or None with `quiet`. On a terminal, a rich
    progress bar (with the total of records `count_total()` finds, and an ETA); elsewhere, PlainProgress
    lines (cli/progress.py). Both are drawn on a timer from the start, not only when dialogues finish."""
    if quiet or sys.stderr is None:         # no stderr at all (`2>&-`): nothing to draw on
        yield None
        return
    total = count_total()
    if not sys.stderr.isatty():
        plain = PlainProgress(total)
        with Ticker(plain.tick):
            yield plain
        return
    from rich.console import Console
    from rich.progress import Progress
    estimator = EtaEstimator(total)
    with Progress(*bar_columns(estimator), console=Console(stderr=True), transient=True,
                  refresh_per_second=1 / TICK_S) as progress:
        task = progress.add_task("", total=total)

        def update(records: int, dialogues: int, turns: int) -> None:
            estimator.update(records)
            progress.update(task, completed=records)
        yield update


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


def print_table(*renderables, width: int | None = None) -> None:
    """Rich tables (or lines) on stdout. Rich's own answer to a broken pipe is exit 1, which is this tool's
    "gate failed": raised instead, to be mapped like any other."""
    from rich.console import Console

    class StdoutConsole(Console):
        def on_broken_pipe(self):
            raise BrokenPipeError
    with stdout() as out:
        console = StdoutConsole(file=out, width=width)
        for renderable in renderables:
            console.print(renderable)


def _with_reasons(n: int, what: str, reasons: dict[str, int], suffix: str = "") -> str:
    text = plural(n, what) + suffix
    if n:
        text += " (" + ", ".join(f"{reason} {count}" for reason, count in sorted(reasons.items())) + ")"
    return text


def counts_line(counts: dict, model: str) -> str:
    """`5 dialogues, 13 agent turns scored, 13 context turns, 1 turns skipped (non_dialogue_role 1),
    0 records skipped (model m)`; dialogues with nothing to score are named only when there are some."""
    parts = [plural(counts["dialogues_scored"], "dialogue"), plural(counts["turns_scored"], "agent turn") + " scored",
             plural(counts["turns_context"], "context turn"),
             _with_reasons(sum(counts["turns_skipped"].values()), "turn", counts["turns_skipped"], " skipped")]
    if counts["dialogues_skipped"]:
        parts.append(_with_reasons(sum(counts["dialogues_skipped"].values()), "dialogue", counts["dialogues_skipped"],
                                   " with nothing to score"))
    parts.append(_with_reasons(sum(counts["records_skipped"].values()), "record", counts["records_skipped"], " skipped"))
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


def _level(bootstrap: dict) -> str | None:
    return f"{bootstrap['confidence']:.0%} CI" if bootstrap.get("n_resamples") else None


def add_grouped_rows(table, names: list[str], cells: Callable[[str], list]) -> None:
    """A row with each prefix, then a row per metric: its last part, indented, and `cells(name)`."""
    from rich.text import Text
    for prefix, leaves in grouped(names):
        if prefix:
            table.add_row(Text(prefix + ".", style="bold"), *[""] * (len(table.columns) - 1))
        for leaf in leaves:
            table.add_row(Text(("  " if prefix else "") + leaf), *cells(f"{prefix}.{leaf}" if prefix else leaf))


def grouped_table(title: str | None, caption: str | None = None):
    from rich import box
    from rich.table import Table
    # Two characters between columns, none at the edges: 80 columns hold compare's table whole.
    return Table(title=title, caption=caption, box=box.SIMPLE_HEAD, show_edge=False, padding=(0, 1, 0, 0),
                 title_justify="left", caption_justify="left")


def score_table(summary: dict, directions: dict[str, str]):
    """The corpus table of `score`: metric, better direction, mean, CI."""
    level = _level(summary.get("bootstrap", {}))
    corpus = summary["corpus"]
    table = grouped_table(f"empathy-score: means over {summary['counts']['dialogues_scored']} dialogues"
                   + (f", {level}s" if level else ""))
    table.add_column("metric", no_wrap=True)
    table.add_column("better")
    table.add_column("mean", justify="right")
    if level:
        table.add_column(level)

    def cells(name: str) -> list:
        entry = corpus[name]
        row = [BETTER.get(directions.get(name), "–"), f"{entry['mean']:.3f}"]
        if level:
            row.append(f"[{entry['ci_low']:.3f}, {entry['ci_high']:.3f}]" if "ci_low" in entry else "–")
        return row
    add_grouped_rows(table, ordered_metrics(list(corpus), directions), cells)
    return table


def headline(summary: dict, directions: dict[str, str]) -> list:
    """The lines above the table (reporting/headline.py): the verdict in its colour, each headline
    metric in bold, `this run` in bold among its reference points."""
    from rich.text import Text
    lines = []
    for text in headline_text(summary, directions, width=HEADLINE_WIDTH):
        line = Text(text, no_wrap=True)
        if text.startswith(("PASS:", "FAIL:")):
            line.stylize("bold green" if text.startswith("PASS:") else "bold red")
        elif not text.startswith(" "):
            line.stylize("bold", 0, text.find(" "))
        line.highlight_words(["this run"], style="bold")
        lines.append(line)
    return lines + [""] if lines else []


def print_summary(summary: dict, to_stdout: bool, directions: dict[str, str]) -> None:
    line = counts_line(summary["counts"], summary["signature"]["model"])
    if not to_stdout:
        click.echo(line, err=True)
        return
    print_table(*headline(summary, directions), score_table(summary, directions), line)


def compare_table(table: dict[str, dict], result: dict):
    """The delta table of `compare`: baseline, candidate, delta and its paired CI; a row ends with ▼
    (worse) or ▲ (better) where the CI shows a regression or an improvement
    (reporting.comparison.change_of). 80 columns hold it with every name whole."""
    from rich.text import Text
    level = _level(result.get("bootstrap", {}))
    out = grouped_table(f"empathy-score compare: candidate - baseline, {result['pairing']['n_paired']} paired dialogues"
                 + (f", {level}s" if level else ""),
                 caption="▼ regression / ▲ improvement: the CI of the delta lies wholly on the metric's "
                         "worse / better side of 0" if level else None)
    out.add_column("metric", no_wrap=True)
    out.add_column("better")
    out.add_column("base", justify="right")
    out.add_column("cand", justify="right")
    out.add_column("delta", justify="right")
    if level:
        out.add_column(level, no_wrap=True)

    def cells(name: str) -> list:
        # The mark ends the row: terminals that draw ▼/▲ two columns wide (their width is ambiguous in
        # Unicode) then shift nothing after it.
        e = table[name]
        mark, style = MARKS.get(e.get("change", ""), ("", ""))
        row = [BETTER.get(e["direction"], "–"), f"{e['baseline']:.3f}", f"{e['candidate']:.3f}",
               f"{e['delta']:+.3f}"]
        last = Text(f"[{e['ci_low']:+.3f}, {e['ci_high']:+.3f}]" if level else "")
        if mark:
            last += Text((" " if level else "") + mark, style=style)
        return row + [last] if level or mark else row
    add_grouped_rows(out, ordered_metrics(list(table), {n: e["direction"] for n, e in table.items()}), cells)
    return out


def print_compare(table: dict[str, dict], result: dict, width: int | None = None) -> None:
    print_table(compare_table(table, result), width=width)
