"""`empathy-score compare BASELINE CANDIDATE`: paired deltas of two releases, with CIs and gates."""
from __future__ import annotations

import sys

import click

from .exits import EXIT_GATE_FAILED, reports_errors
from .gate_options import (bootstrap_options, bootstrap_settings, echo_verdicts, gate_on_options,
                           gate_plan)
from .main import cli
from .reader_options import input_options, reader_options

SUITE = "empathy-score compare"


def _output_kinds(outputs) -> list[tuple[str, str]]:
    from ..errors import UsageError
    from ..io.writers import output_kind
    kinds = [(path, output_kind(path)) for path in outputs]
    for path, kind in kinds:
        if kind not in ("json", "junit"):
            raise UsageError(f"-o {path}: compare writes .json (the comparison) or .junit.xml (gates)")
    return kinds


def _rows(path: str, side_kind: str, scorer_of, options, tasks, dims):
    from ..reporting.comparison import read_saved_rows
    from ..scoring_run import run_scoring
    if side_kind == "scores":
        return read_saved_rows(path, tasks, dims)
    return run_scoring(scorer_of(), [path], options, []).rows


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


@cli.command()
@click.argument("baseline")
@click.argument("candidate")
@click.option("-m", "--model", help="Bundle folder or shipped model name. Scores dialogue logs; for two "
                                    "saved per-turn files it gives the tasks (default: read from the files).")
@click.option("-o", "--output", "outputs", multiple=True,
              help="Write .json (the comparison) and/or .junit.xml (gate verdicts). Repeatable.")
@input_options
@click.option("--no-future-context", is_flag=True, help="Score logs with previous turns only.")
@click.option("--device", type=click.Choice(["cpu", "cuda"]), default="cpu", show_default=True)
@click.option("--threads", type=int, help="ONNX Runtime threads (default: all cores).")
@click.option("--max-batch-tokens", type=int, default=16384, show_default=True)
@click.option("--batch-size", type=int, default=128, show_default=True)
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
    from ..pipeline.aggregation import metric_names
    from ..bundle import load_bundle
    from ..reporting.comparison import delta_table, is_saved_scores, pair, tasks_of_saved
    from ..reporting.gating import drop_gates, estimates_from_table
    from ..reporting.junit import write_junit
    from ..reporting.metric_catalog import directions as metric_directions
    from ..io.writers import write_json

    kinds = _output_kinds(outputs)
    bootstrap = bootstrap_settings(n_resamples, confidence, seed)
    options = reader_options(fmt, turns_key, role_key, text_key, id_key, agent_roles, on_error)
    sides = {path: "scores" if is_saved_scores(path) else "log" for path in (baseline, candidate)}
    scorer = None

    def scorer_of():
        nonlocal scorer
        if scorer is None:
            from ..api import Scorer
            scorer = Scorer.from_pretrained(model, device=device, threads=threads,
                                            max_batch_tokens=max_batch_tokens, max_batch_size=batch_size,
                                            agent_roles=options.agent_roles,
                                            future_context=not no_future_context)
        return scorer

    if "log" in sides.values():
        bundle = scorer_of().bundle
    elif model:
        bundle = load_bundle(model)
    else:
        bundle = None
    tasks, dims = (bundle.tasks, bundle.perceived) if bundle else tasks_of_saved(baseline)
    names = metric_names(tasks, dims)
    directions = metric_directions(tasks, dims)
    plan = gate_plan(drop_gates(max_drop, directions), gate_on, min_dialogues, bootstrap, directions,
                     subject="delta ", unit="paired dialogues")

    base_rows = _rows(baseline, sides[baseline], scorer_of, options, tasks, dims)
    cand_rows = _rows(candidate, sides[candidate], scorer_of, options, tasks, dims)
    pairing = pair(base_rows, cand_rows)
    click.echo(pairing.describe(), err=True)
    table = delta_table(base_rows, cand_rows, pairing, names, directions, bootstrap)
    evaluation = plan.evaluate(estimates_from_table(table, mean_key="delta")) if plan else None
    result = {"signature": bundle.signature() if bundle else None,
              "baseline": {"input": baseline, "kind": sides[baseline], "n_dialogues": len(base_rows)},
              "candidate": {"input": candidate, "kind": sides[candidate], "n_dialogues": len(cand_rows)},
              "pairing": pairing.to_dict(),
              "bootstrap": bootstrap.to_dict() if bootstrap else {"unit": "dialogue", "n_resamples": 0},
              "metrics": table}
    if evaluation is not None:
        result["gates"] = evaluation.to_list()
    for path, kind in kinds:
        if kind == "json":
            write_json(path, result)
        else:
            write_junit(path, evaluation, SUITE)
    if not quiet and not outputs:
        _print_table(table, result)
    echo_verdicts(evaluation)
    if evaluation is not None and not evaluation.passed:
        sys.exit(EXIT_GATE_FAILED)
