"""`empathy-score compare BASELINE CANDIDATE`: paired deltas of two releases, with CIs and gates."""
from __future__ import annotations

import sys

import click

from .exits import EXIT_GATE_FAILED, reports_errors
from .gate_options import bootstrap_options, bootstrap_settings, echo_verdicts, gate_on_options
from .reader_options import input_options, reader_options
from .runtime_options import load_scorer, runtime_options


def _print_table(table: dict, result: dict) -> None:
    from rich.console import Console
    from rich.table import Table
    level = result["bootstrap"].get("confidence")
    out = Table(title=f"empathy-score compare: candidate - baseline over {result['pairing']['n_paired']} "
                      "paired dialogues")
    for column in ("metric", "better", "baseline", "candidate",
                   "delta" + (f"  [{level:.0%} CI]" if level else "")):
        out.add_column(column)
    for name, e in table.items():
        delta = f"{e['delta']:+.4f}"
        if "ci_low" in e:
            delta += f"  [{e['ci_low']:+.4f}, {e['ci_high']:+.4f}]"
        out.add_row(name, e["direction"], f"{e['baseline']:.4f}", f"{e['candidate']:.4f}", delta)
    Console(file=sys.stdout, soft_wrap=True).print(out)


@click.command()
@click.argument("baseline")
@click.argument("candidate")
@click.option("-m", "--model", help="Bundle folder or shipped model name. Scores dialogue logs; for two "
                                    "saved per-turn files it gives the tasks (default: read from the files).")
@click.option("-o", "--output", "outputs", multiple=True,
              help="Write .json (the comparison) and/or .junit.xml (gate verdicts). Repeatable.")
@input_options
@runtime_options
@click.option("-q", "--quiet", is_flag=True, help="No table on stdout.")
@bootstrap_options
@click.option("--max-drop", multiple=True, metavar="METRIC=DELTA",
              help="Gate: fail (exit 1) when METRIC drops by more than DELTA, in its bad direction "
                   "(repeatable; only metrics with a direction).")
@gate_on_options
@reports_errors
def compare(baseline, candidate, model, outputs, fmt, turns_key, role_key, text_key, id_key, agent_roles,
            on_error, no_future_context, device, threads, max_batch_tokens, batch_size, quiet,
            n_resamples, confidence, seed, max_drop, gate_on, min_dialogues):
    """Compare two releases over the same test conversations.

    BASELINE and CANDIDATE are each a dialogue log (scored now, with the same input options as
    `score`) or a per-turn .jsonl saved by `empathy-score score -o turns.jsonl`. Dialogues are paired
    by id; deltas are candidate - baseline with a paired bootstrap CI.
    """
    from ..api import compare_files
    options = reader_options(fmt, turns_key, role_key, text_key, id_key, agent_roles, on_error)

    def make_scorer():
        return load_scorer(model, options.agent_roles, no_future_context, device, threads, max_batch_tokens,
                           batch_size)
    compared = compare_files(baseline, candidate, options, make_scorer, model=model,
                             bootstrap=bootstrap_settings(n_resamples, confidence, seed), max_drop=max_drop,
                             gate_on=gate_on, min_dialogues=min_dialogues, outputs=outputs)
    click.echo(compared.pairing.describe(), err=True)
    if not quiet and not outputs:
        _print_table(compared.table, compared.result)
    echo_verdicts(compared.gates)
    if compared.gates is not None and not compared.gates.passed:
        sys.exit(EXIT_GATE_FAILED)
