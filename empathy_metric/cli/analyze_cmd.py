"""`empathy-score analyze LOGS --ratings FILE`: how the metrics agree with the user's own human ratings."""
from __future__ import annotations

import math

import click

from .gate_options import bootstrap_options, bootstrap_settings
from .reader_options import input_options, reader_options
from .report import print_table, progress_callback
from .runtime_options import load_scorer, runtime_options


def thresholds(texts: tuple[str, ...]) -> dict[str, float]:
    """`--high VALUE` (every rating) or `--high NAME=VALUE` -> {name or "": value}."""
    from ..errors import UsageError
    from ..reporting.gating import parse_assignment
    found = {}
    for text in texts:
        try:
            name, value = "", float(text)
        except ValueError:
            name, value = parse_assignment(text, "--high")
        if not math.isfinite(value):
            raise UsageError(f"--high {text}: the value must be a finite number")
        found[name] = value
    return found


def _print_tables(result: dict) -> None:
    from rich import box
    from rich.table import Table
    from rich.text import Text

    from ..reporting.analysis_tables import agreement_table, intent_table, matching_line, title
    level = result["bootstrap"].get("confidence")
    shown = []
    for analysis in result["analyses"]:
        shown += ["", Text(title(analysis), style="bold"), matching_line(analysis)]
        for make, caption in ((agreement_table, "agreement over the rated units"),
                              (intent_table, "mean rating with / without each intent (Table 2)")):
            headers, rows = make(analysis, compact=True)
            if not rows:
                continue
            table = Table(box=box.SIMPLE_HEAD, show_edge=False, padding=0, title_justify="left",
                          title=caption + (f", {level:.0%} CIs" if level else ""))
            for k, header in enumerate(headers):
                table.add_column(header, no_wrap=True, justify="left" if k == 0 else "right")
            for row in rows:
                table.add_row(*row)
            shown.append(table)
    print_table(*shown)


def _summary_line(result: dict) -> str:
    rated = ", ".join(f"{a['rating']} ({a['level']} level, {a.get('n_units', 0)} units)" for a in result["analyses"])
    return (f"{result['counts']['dialogues_scored']} dialogues scored (model {result['signature']['model']}); "
            f"ratings analysed: {rated}")


@click.command()
@click.argument("inputs", nargs=-1, required=True)
@click.option("-m", "--model", help="Bundle folder, shipped model name, or 'fast' (the 3-layer student; "
                                    "default: the shipped default model).")
@click.option("--ratings", "ratings_path", metavar="FILE",
              help="Human ratings, CSV or JSONL (by extension): one row per rating, keyed by dialogue id and, "
                   "for a turn-level rating, turn_index (absent or empty: a dialogue-level rating).")
@click.option("--rating", "rating_names", multiple=True, metavar="NAME",
              help="A column of --ratings that is a rating (repeatable; default: every numeric column).")
@click.option("--ratings-id-key", metavar="KEY",
              help="Column of --ratings holding the dialogue id (default: the first of id, dialogue_id, "
                   "dialog_id, conversation_id, conv_id).")
@click.option("--ratings-turn-key", metavar="KEY", help="Column of --ratings holding the turn index "
                                                        "(default: turn_index).")
@click.option("--record-rating", "record_ratings", multiple=True, metavar="[NAME=]PATH",
              help="A dialogue-level rating carried by each log record at a dotted PATH, e.g. "
                   "empathy=survey_score.seeker.empathy (numbers as text accepted). Repeatable.")
@click.option("--high", multiple=True, metavar="[NAME=]VALUE",
              help="ROC-AUC makes a rating binary: rating >= VALUE is high. Default: a rating with two values "
                   "(0/1) is split between them; otherwise at the value that splits the rated units closest to "
                   "half. Repeatable, per rating with NAME=.")
@click.option("-o", "--output", "outputs", multiple=True,
              help="Write .json (everything), .md (the tables in Markdown) or .html (a self-contained page; "
                   "extra [report]). Repeatable.")
@input_options
@runtime_options
@click.option("-q", "--quiet", is_flag=True, help="No progress, no tables (warnings still go to stderr).")
@bootstrap_options
def analyze(inputs, model, ratings_path, rating_names, ratings_id_key, ratings_turn_key, record_ratings, high,
            outputs, fmt, turns_key, role_key, text_key, id_key, agent_roles, on_error, no_future_context, device,
            threads, max_batch_tokens, batch_size, workers, quiet, n_resamples, confidence, seed):
    """Relate every metric to your own human ratings of the same dialogues.

    \b
    Scores the logs (as `score` does), then for every rating:
    - agreement of every metric with it: Pearson r, Spearman rho, ROC-AUC of the rating made
      binary at --high, and Pearson r with reply length removed (reply length itself is a row);
    - for every expressed intent, the mean rating with and without it, the difference with
      its CI, and a Mann-Whitney test, Holm-corrected over the intents (Table 2 of Xu & Jiang).
    CIs resample dialogues. A turn-level rating on an agent turn rates that turn; on another
    turn (the user's), it rates the agent turns since the previous turn with that rating.
    Ratings that match no scored dialogue or turn are counted and reported.
    """
    from ..api import RatingsRequest, analyze_files, analyze_output_kind
    from ..io.ratings import RatingsOptions, RecordRating
    from ..io.readers.counting import count_records
    for path in outputs:                  # a bad -o or option fails before the model loads
        analyze_output_kind(path)
    request = RatingsRequest(path=ratings_path,
                             options=RatingsOptions(ratings_id_key, ratings_turn_key, tuple(rating_names)),
                             record_ratings=tuple(RecordRating.parse(t) for t in record_ratings),
                             high=thresholds(high))
    options = reader_options(fmt, turns_key, role_key, text_key, id_key, agent_roles, on_error)
    scorer = load_scorer(model, options.agent_roles, no_future_context, device, threads, max_batch_tokens,
                         batch_size, workers)
    with progress_callback(quiet, lambda: count_records(list(inputs), options)) as on_dialogue:
        analysis = analyze_files(scorer, list(inputs), options, request, list(outputs),
                                 bootstrap_settings(n_resamples, confidence, seed), on_dialogue)
    if not quiet:
        if not outputs:
            _print_tables(analysis.result)
        click.echo(_summary_line(analysis.result), err=True)
    for warning in analysis.warnings:
        click.echo(f"warning: {warning}", err=True)
