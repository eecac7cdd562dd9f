"""One scoring run, as the CLI does it: read -> score -> write per-turn files -> summary.

Streams: dialogues are read, scored and written one chunk at a time; only small per-dialogue
metric rows are kept for the summary.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

from .pipeline.accounting import Counts
from .reporting.gating import GateEvaluation, GatePlan, estimates_from_table
from .reporting.junit import write_junit
from .io.readers import ReaderOptions, ReadStats, read_path_list
from .io.resume import begin_run, run_identity
from .reporting.statistics import BootstrapSettings
from .reporting.summary import DialogueRow, build_summary, corpus_table
from .io.writers import CsvTurnWriter, JsonlTurnWriter, output_kind, write_json


@dataclass
class RunResult:
    summary: dict
    rows: list[DialogueRow]
    counts: Counts
    read_stats: ReadStats = field(default_factory=ReadStats)
    gates: GateEvaluation | None = None       # the verdicts printed and the exit code come from this


def open_turn_writers(outputs: list[str], scorer, append: bool = False, resume_path: str | None = None):
    writers = []
    for path in outputs:
        kind = output_kind(path)
        if kind == "jsonl":
            writers.append(JsonlTurnWriter(path, append or path == resume_path))
        elif kind == "csv":
            writers.append(CsvTurnWriter(path, scorer.tasks, scorer.perceived, append))
    return writers


def run_scoring(scorer, inputs: list[str], options: ReaderOptions, outputs: list[str],
                on_dialogue: Callable[[int, int], None] | None = None,
                bootstrap: BootstrapSettings | None = None, gates: GatePlan | None = None,
                resume: bool = False) -> RunResult:
    for path in outputs:            # fail on a bad -o before any work is done
        output_kind(path)
    stats, counts, rows = ReadStats(), Counts(), []
    resumed = begin_run(outputs, run_identity(scorer, options, inputs), resume)
    writers = open_turn_writers(outputs, scorer, resume_path=resumed.path if resumed else None)
    try:
        dialogues = read_path_list(inputs, options, stats)
        for scored in scorer.iter_scores(dialogues, counts, options.on_error, resumed):
            for writer in writers:
                if scored.resumed_from != writer.path:     # resumed records are already there
                    writer.write_dialogue(scored)
            rows.append(DialogueRow(scored.dialogue_id, scored.n_turns, scored.metrics))
            if on_dialogue:
                on_dialogue(len(rows), counts.turns_scored)
    finally:
        for writer in writers:
            writer.close()
    counts.records_read = stats.records_read
    for reason, n in stats.records_skipped.items():
        counts.records_skipped[reason] = counts.records_skipped.get(reason, 0) + n
    summary = build_summary(scorer.bundle.signature(), scorer.settings(), list(inputs), counts.to_dict(),
                            corpus_table(rows, bootstrap), rows,
                            {"skipped_record_errors": stats.errors} if stats.errors else None)
    summary["bootstrap"] = bootstrap.to_dict() if bootstrap else {"unit": "dialogue", "n_resamples": 0}
    evaluation = gates.evaluate(estimates_from_table(summary["corpus"])) if gates else None
    if evaluation is not None:
        summary["gates"] = evaluation.to_list()
    for path in outputs:
        if output_kind(path) == "json":
            write_json(path, summary)
        elif output_kind(path) == "junit":
            write_junit(path, evaluation, "empathy-score score")
    return RunResult(summary=summary, rows=rows, counts=counts, read_stats=stats, gates=evaluation)
