"""`empathy-score score`: the main job. Its options and its run are shared with `zero-shot` (training
side), which scores the same way with another kind of model."""
from __future__ import annotations

import sys
from dataclasses import replace

import click

from ..io.readers.streams import DEFAULT_MAX_RECORD_BYTES
from .exits import EXIT_GATE_FAILED
from .gates_cmd import gates_file_option, read_gates_file
from .gate_options import bootstrap_options, bootstrap_settings, echo_verdicts, gate_on_options
from .reader_options import input_options, reader_options
from .report import echo_warnings, print_summary, progress_callback
from .runtime_options import runtime_options


def score_options(command):
    """Every option of `score` but the model: outputs, input layout, runtime, resume, CIs and gates."""
    options = [
        click.option("-o", "--output", "outputs", multiple=True,
                     help="Write results; format by extension: .jsonl (per turn), .csv (per turn), "
                          ".json (run summary), .junit.xml (gate verdicts), .md (a Markdown summary for a "
                          "CI job summary), .html (a self-contained report; extra [report]). Repeatable. "
                          "With --engine ray, a folder (DIR/) gets the per-turn records as shards written by "
                          "the cluster: JSONL, or Parquet when DIR ends in .parquet."),
        click.option("--include-text", is_flag=True,
                     help="Per-turn outputs (.jsonl, .csv, shards) carry the scored turn's text."),
        input_options,
        runtime_options,
        click.option("--engine", type=click.Choice(["local", "ray"]), default="local", show_default=True,
                     help="ray: score the chunks on a Ray cluster (extra [ray]; --workers actors, each holding "
                          "the model), with the local engine's outputs. See docs/scale.md."),
        click.option("--ray-address", metavar="ADDR",
                     help="--engine ray: the cluster to join ('auto', or ray://HOST:10001); default: start a "
                          "local one of --workers x ORT threads CPUs."),
        click.option("-q", "--quiet", is_flag=True,
                     help="No progress (a bar on a terminal, else a line every 10 s), no summary table."),
        click.option("--resume", is_flag=True,
                     help="Continue an interrupted run: keep the dialogues in its OUT.jsonl.partial (or in the "
                          "-o .jsonl output itself), score the rest and append them (refused if the model, "
                          "settings or input differ, or a kept record is not what a fresh run writes)."),
        click.option("--allow-empty", is_flag=True,
                     help="Accept an input without any record (else exit 3)."),
        click.option("--max-record-bytes", type=click.IntRange(min=1), default=DEFAULT_MAX_RECORD_BYTES,
                     show_default=True,
                     help="The longest record read (a JSONL line, a CSV line, a whole-file JSON array); a longer "
                          "one is an error (exit 3) before it is read into memory."),
        bootstrap_options,
        click.option("--fail-under", multiple=True, metavar="METRIC=VALUE",
                     help="Gate: fail (exit 1) when METRIC is below VALUE (repeatable)."),
        click.option("--fail-over", multiple=True, metavar="METRIC=VALUE",
                     help="Gate: fail (exit 1) when METRIC is above VALUE (repeatable)."),
        click.option("--max-share", multiple=True, metavar="'METRIC<VALUE=SHARE'",
                     help="Tail gate: fail (exit 1) when more than SHARE of the dialogues have METRIC under "
                          "VALUE ('>': over VALUE, for lower-is-better metrics); judged on the share's CI "
                          "upper bound (repeatable)."),
        gates_file_option,
        gate_on_options,
    ]
    for option in reversed(options):
        command = option(command)
    return command


def run_score(make_scorer, inputs, outputs, include_text, fmt, turns_key, role_key, text_key, id_key, agent_roles,
              on_error, no_future_context, device, threads, max_batch_tokens, batch_size, workers, engine, ray_address,
              quiet, resume, allow_empty,
              n_resamples, confidence, seed, fail_under, fail_over, gate_on, min_dialogues, max_share=(),
              gates_file=None, max_record_bytes=DEFAULT_MAX_RECORD_BYTES):
    """The `score_options` values -> one `api.score_files` run, its summary and verdicts printed, the
    exit code of its gates. `make_scorer(device=, threads=, max_batch_tokens=, max_batch_size=,
    agent_roles=, future_context=, workers=)` loads the model."""
    from ..api import check_outputs, gate_warnings, score_files
    from ..io.readers.counting import count_records
    from ..pipeline.aggregation import metric_names
    from ..reporting.gating import plan_gates, threshold_gates
    from ..reporting.metric_catalog import directions, ranges
    from ..reporting.tail_gates import tail_gates
    check_outputs(outputs, engine=engine, inputs=list(inputs))   # a bad -o or a missing extra fails before any work
    kept = read_gates_file(gates_file)                    # and so does a malformed gate or gates file
    gates = (threshold_gates(fail_under + kept.fail_under, fail_over + kept.fail_over)
             + tail_gates(tuple(max_share) + kept.max_share))
    min_dialogues = max(min_dialogues, kept.min_dialogues)
    bootstrap = bootstrap_settings(n_resamples, confidence, seed)
    options = replace(reader_options(fmt, turns_key, role_key, text_key, id_key, agent_roles, on_error),
                      max_record_bytes=max_record_bytes)
    if engine == "ray":
        from ..distributed import require_ray
        require_ray()                                     # a missing extra fails before the model loads
    scorer = make_scorer(device=device, threads=threads, max_batch_tokens=max_batch_tokens,
                         max_batch_size=batch_size, agent_roles=options.agent_roles,
                         future_context=not no_future_context, workers=workers)
    if engine == "ray":
        from ..distributed import use_ray
        use_ray(scorer, ray_address, device)
    plan = plan_gates(gates, gate_on, min_dialogues, bootstrap, metric_names(scorer.tasks, scorer.perceived),
                      validity_warnings=gate_warnings(scorer.bundle, scorer.tasks, scorer.perceived),
                      ranges=ranges(scorer.tasks, scorer.perceived))
    with progress_callback(quiet, lambda: count_records(list(inputs), options)) as on_dialogue:
        result = score_files(scorer, list(inputs), options, list(outputs), on_dialogue, bootstrap=bootstrap,
                             gates=plan, resume=resume, allow_empty=allow_empty, include_text=include_text)
    if not quiet:
        print_summary(result.summary, not outputs, directions(scorer.tasks, scorer.perceived))
        echo_warnings(result.summary["counts"])
    echo_verdicts(result.gates)
    if result.gates is not None and not result.gates.passed:
        sys.exit(EXIT_GATE_FAILED)


@click.command()
@click.argument("inputs", nargs=-1, required=True)
@click.option("-m", "--model", help="Bundle folder, shipped model name, or 'fast' (the 3-layer student; "
                                    "default: the shipped default model).")
@score_options
def score(inputs, model, **options):
    """Score dialogue logs (JSONL, JSON, EMH CSV; '-' for stdin)."""
    from ..api import Scorer

    def make_scorer(**runtime):
        return Scorer.from_pretrained(model, **runtime)
    run_score(make_scorer, inputs, **options)
