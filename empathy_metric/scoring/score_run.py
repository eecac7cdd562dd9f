"""One scoring run, as `empathy-score score` does it: read -> score -> per-turn files as dialogues
finish -> summary with CIs (run_summary.py) -> gates -> the outputs written whole at the end
(io/output_writer.py)."""
from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from typing import Callable

from ..bundle import Bundle
from ..errors import InputError
from ..io.output_paths import check_output_paths, check_shard_outputs
from ..io.output_writer import json_text, write_outputs
from ..io.readers import ReaderOptions, ReadStats, read_path_list
from ..io.run_outputs import RunOutputs
from ..io.writers import SCORE_KINDS, SHARDS, ShardFolder, output_kind, scored_by
from ..pipeline.accounting import Counts
from ..pipeline.aggregation import metric_names
from ..reporting.gating import GateEvaluation, GatePlan
from ..reporting.html_report import require_report_extra
from ..reporting.junit import junit_bytes
from ..reporting.metric_catalog import catalog, directions, validity_warnings
from ..reporting.statistics import BootstrapSettings
from ..reporting.summary import DialogueRow
from ..reporting.transcripts import LowestTranscripts, sort_metric
from .engine import RAY
from .run_summary import count_reads, run_summary
from .scorer import Scorer

@dataclass
class RunResult:
    summary: dict
    rows: list[DialogueRow]
    counts: Counts
    read_stats: ReadStats = field(default_factory=ReadStats)
    gates: GateEvaluation | None = None       # the verdicts printed and the exit code come from this


def check_outputs(outputs, allowed: tuple[str, ...] = SCORE_KINDS, command: str = "score",
                  engine: str = "local", inputs: list[str] | None = None) -> list[str]:
    """The kind of every -o path; a UsageError for an unknown extension, for an HTML report without
    the [report] extra, for a folder (per-turn shards) unless `engine` is 'ray', or for an output that
    cannot go with one; with `inputs`, also for a path that names an input, a missing or read-only
    folder, or a shard folder that holds files. Called before any work is done (the CLI calls it
    before loading the model or starting a cluster)."""
    kinds = [output_kind(path, score_kinds(allowed, engine), command) for path in outputs]
    for path, kind in zip(outputs, kinds):
        if kind == "html":
            require_report_extra(path)
    check_shard_outputs(list(outputs), kinds)
    if inputs is not None:
        check_output_paths(list(inputs), list(outputs), score_kinds(allowed, engine))
    return kinds


def score_kinds(allowed: tuple[str, ...], engine: str) -> tuple[str, ...]:
    return allowed + (SHARDS,) if engine == RAY else allowed


# (records read so far, dialogues scored, agent turns scored), after each dialogue
ProgressCallback = Callable[[int, int, int], None]


def score_files(scorer: Scorer, inputs: list[str], options: ReaderOptions, outputs: list[str],
                on_dialogue: ProgressCallback | None = None,
                bootstrap: BootstrapSettings | None = None, gates: GatePlan | None = None,
                resume: bool = False, allow_empty: bool = False, include_text: bool = False) -> RunResult:
    """Read `inputs`, score them, write per-turn `outputs` as dialogues finish (streaming: only small
    per-dialogue metric rows are kept), then the summary (.json, .md), the report (.html: transcripts
    of at most reporting.transcripts.TRANSCRIPT_CAP dialogues are kept) and gate verdicts (.junit.xml).
    Per-turn files are written beside their targets and renamed over them only when the run succeeds,
    every output is locked for the run (io/run_outputs.py); a failed run leaves the previous outputs.
    `resume`: keep the dialogues of the interrupted run's OUT.partial (or of the one .jsonl output)
    and append the rest (io/resume.py).
    An input without any record is an InputError unless `allow_empty`. `include_text`: per-turn
    outputs carry the scored turn's text. A folder in `outputs` (engine 'ray') gets the per-turn records
    as shards, written by the cluster."""
    kinds = check_outputs(outputs, engine=scorer.engine.name, inputs=inputs)   # before any work; never overwrite an input
    shards = next((ShardFolder.of(path, scorer.tasks, scorer.perceived, include_text,
                                  scored_by(scorer.bundle.signature(), scorer.settings()))
                   for path, kind in zip(outputs, kinds) if kind == SHARDS), None)
    files = [path for path, kind in zip(outputs, kinds) if kind != SHARDS]
    stats, counts, rows = ReadStats(), Counts(), []
    staged = RunOutputs(files, scorer, options, inputs, resume, include_text)   # locks; per-turn files beside
    known, writers = staged.known(scorer, counts), staged.writers
    names = metric_names(scorer.tasks, scorer.perceived)
    transcripts = LowestTranscripts(sort_metric(names)) if "html" in kinds else None
    formats = tuple(w.format for w in writers) + ((shards.lines,) if shards else ())
    if known is None and shards is None and scorer.reads_in_workers(inputs, options):
        from .block_scoring import iter_block_scores      # imports the pool machinery only when used
        scores = iter_block_scores(scorer, inputs, options, stats, counts, formats, transcripts is not None)
    else:
        scores = scorer.iter_scores(read_path_list(inputs, options, stats, scorer.block_bytes), counts,
                                    options.on_error, known,
                                    formats=formats, keep_utterances=transcripts is not None, shards=shards)
    try:
        for scored in scores:
            for writer in writers:
                if scored.reused_from != writer.path:     # resumed records are already there
                    writer.write_dialogue(scored)
            rows.append(DialogueRow(scored.dialogue_id, scored.n_turns, scored.metrics))
            if transcripts is not None:
                transcripts.add(scored)
            if on_dialogue:
                on_dialogue(stats.records_read, len(rows), counts.turns_scored)
        count_reads(counts, stats)
        counts.check_records()
        if counts.records_read == 0 and not allow_empty:
            raise InputError("no records: the input is empty (--allow-empty accepts that)",
                             source=", ".join("<stdin>" if p == "-" else p for p in inputs))
        staged.finish()                 # only now do the per-turn files replace the previous ones
    except BaseException:
        with contextlib.suppress(Exception):    # the error that ended the run is the one to report
            scores.close()              # stops --workers' processes now, not when the error is gone
        staged.abandon()                # previous outputs untouched; the .jsonl partial file kept
        raise
    try:
        summary, evaluation = run_summary(scorer, list(inputs), counts, rows, bootstrap, gates,
                                          {"skipped_record_errors": stats.errors} if stats.errors else None)

        def html() -> str:
            from ..reporting.html_report import score_report
            metrics = catalog(scorer.tasks, scorer.perceived, validity_of(scorer.bundle))
            return score_report(summary, metrics, scorer.tasks, scorer.perceived, transcripts.lowest_first(),
                                transcripts.metric)

        def markdown() -> str:
            from ..reporting.markdown_summary import score_markdown
            return score_markdown(summary, directions(scorer.tasks, scorer.perceived))
        write_outputs(zip(outputs, kinds), {"json": lambda: json_text(summary), "md": markdown, "html": html,
                                            "junit": lambda: junit_bytes(evaluation, "empathy-score score",
                                                                         summary)})
    finally:
        staged.release()                # the locks on every output (a failed run releases them too)
    return RunResult(summary=summary, rows=rows, counts=counts, read_stats=stats, gates=evaluation)


def gate_warnings(bundle: Bundle | None, tasks, dims) -> dict[str, str]:
    """Metric -> why a gate on it may be noise (validity below the floor, or not measured): shown with
    the gate's verdict, never changing it. Nothing when the model is unknown (two saved files, no -m)."""
    return validity_warnings(tasks, dims, validity_of(bundle)) if bundle is not None else {}


def validity_of(bundle: Bundle | None) -> dict:
    """The manifest's `validity` block (each metric's measured agreement with people), or {} when the
    model has none or it is malformed: the report then says "not measured"."""
    validity = bundle.manifest.get("validity", {}) if bundle is not None else {}
    if not isinstance(validity, dict) or not isinstance(validity.get("metrics", {}), dict):
        return {}
    return validity
