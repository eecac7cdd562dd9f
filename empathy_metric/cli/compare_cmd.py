"""`empathy-score compare BASELINE CANDIDATE`: paired deltas of two releases, with CIs and gates."""
from __future__ import annotations

import sys

import click

from .exits import EXIT_GATE_FAILED
from .gate_options import bootstrap_options, bootstrap_settings, echo_verdicts, gate_on_options
from .reader_options import input_options, reader_options
from .runtime_options import load_scorer, runtime_options


@click.command()
@click.argument("baseline")
@click.argument("candidate")
@click.option("-m", "--model", help="Bundle folder or shipped model name. Scores dialogue logs; for two "
                                    "saved per-turn files it gives the tasks (default: read from the files).")
@click.option("-o", "--output", "outputs", multiple=True,
              help="Write .json (the comparison), .junit.xml (gate verdicts), .md (a Markdown summary for a "
                   "CI job summary), .html (a self-contained report; extra [report]). Repeatable.")
@input_options
@runtime_options
@click.option("-q", "--quiet", is_flag=True, help="No table on stdout.")
@bootstrap_options
@click.option("--max-drop", multiple=True, metavar="METRIC=DELTA",
              help="Gate: fail (exit 1) when METRIC drops by more than DELTA, in its bad direction "
                   "(repeatable; only metrics with a direction).")
@gate_on_options
def compare(baseline, candidate, model, outputs, fmt, turns_key, role_key, text_key, id_key, agent_roles,
            on_error, no_future_context, device, threads, max_batch_tokens, batch_size, workers, quiet,
            n_resamples, confidence, seed, max_drop, gate_on, min_dialogues):
    """Compare two releases over the same test conversations.

    BASELINE and CANDIDATE are each a dialogue log (scored now, with the same input options as
    `score`) or a per-turn .jsonl saved by `empathy-score score -o turns.jsonl`. Dialogues are paired
    by id; deltas are candidate - baseline with a paired bootstrap CI.
    """
    from ..api import COMPARE_KINDS, check_outputs, compare_files
    from .report import print_compare
    check_outputs(outputs, COMPARE_KINDS, "compare")      # before any work
    if baseline == candidate == "-":
        raise click.UsageError("BASELINE and CANDIDATE are both '-': stdin can be read only once; give at "
                               "least one of them as a file")
    options = reader_options(fmt, turns_key, role_key, text_key, id_key, agent_roles, on_error)

    def make_scorer():
        return load_scorer(model, options.agent_roles, no_future_context, device, threads, max_batch_tokens,
                           batch_size, workers)
    compared = compare_files(baseline, candidate, options, make_scorer, model=model,
                             bootstrap=bootstrap_settings(n_resamples, confidence, seed), max_drop=max_drop,
                             gate_on=gate_on, min_dialogues=min_dialogues, outputs=outputs)
    click.echo(compared.pairing.describe(), err=True)
    if not quiet and not outputs:
        print_compare(compared.table, compared.result)
    echo_verdicts(compared.gates)
    if compared.gates is not None and not compared.gates.passed:
        sys.exit(EXIT_GATE_FAILED)
