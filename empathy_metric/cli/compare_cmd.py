"""`empathy-score compare BASELINE CANDIDATE [CANDIDATE ...]`: paired deltas of releases against a
baseline, with CIs and gates."""
from __future__ import annotations

import sys

import click

from .exits import EXIT_GATE_FAILED
from .gates_cmd import gates_file_option, read_gates_file
from .gate_options import bootstrap_options, bootstrap_settings, echo_verdicts, gate_on_options
from .reader_options import input_options, reader_options
from .runtime_options import load_scorer, runtime_options


@click.command()
@click.argument("baseline")
@click.argument("candidates", nargs=-1, required=True)
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
@gates_file_option
@gate_on_options
def compare(baseline, candidates, model, outputs, fmt, turns_key, role_key, text_key, id_key, agent_roles,
            on_error, no_future_context, device, threads, max_batch_tokens, batch_size, workers, quiet,
            n_resamples, confidence, seed, max_drop, gates_file, gate_on, min_dialogues):
    """Compare releases over the same test conversations: each CANDIDATE against BASELINE.

    BASELINE and each CANDIDATE are a dialogue log (scored now, with the same input options as
    `score`) or a per-turn .jsonl saved by `empathy-score score -o turns.jsonl` (saved scores of
    different models or settings are refused). Dialogues are paired by id; deltas are candidate -
    baseline with a paired bootstrap CI. Exit 1 when any candidate fails a gate. A gates file
    (--gates) gives its [max-drop] table.
    """
    from ..api import COMPARE_KINDS, check_outputs
    from ..scoring.compare_releases import compare_releases
    from .report import print_compare
    check_outputs(outputs, COMPARE_KINDS, "compare")      # before any work
    if [baseline, *candidates].count("-") > 1:
        raise click.UsageError("'-' (stdin) is given more than once: stdin can be read only once; give "
                               "the others as files")
    kept = read_gates_file(gates_file)
    max_drop = tuple(max_drop) + kept.max_drop
    min_dialogues = max(min_dialogues, kept.min_dialogues)
    options = reader_options(fmt, turns_key, role_key, text_key, id_key, agent_roles, on_error)

    def make_scorer():
        return load_scorer(model, options.agent_roles, no_future_context, device, threads, max_batch_tokens,
                           batch_size, workers)
    releases = compare_releases(baseline, list(candidates), options, make_scorer, model=model,
                                bootstrap=bootstrap_settings(n_resamples, confidence, seed), max_drop=max_drop,
                                gate_on=gate_on, min_dialogues=min_dialogues, outputs=outputs)
    several = len(releases.compared) > 1
    for candidate, compared in releases.compared:
        if several:
            click.echo(f"candidate {candidate}:", err=True)
        click.echo(compared.pairing.describe(), err=True)
        if not quiet and not outputs:
            if several:
                click.echo(f"\n{candidate} against {baseline}")
            print_compare(compared.table, compared.result)
        echo_verdicts(compared.gates)
    if not releases.passed:
        sys.exit(EXIT_GATE_FAILED)
