"""Two releases compared over the same conversations, as `empathy-score compare` does it: each side a
dialogue log (scored now) or a saved per-turn .jsonl (io/turn_records.py), dialogues paired by id,
deltas with a paired bootstrap CI (reporting/comparison.py), gates on the deltas."""
from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Callable

from ..bundle import load_bundle
from ..errors import InputError, UsageError
from ..io.output_locks import locked_outputs
from ..io.output_paths import check_output_paths
from ..io.output_writer import json_text, write_outputs
from ..io.readers import ReaderOptions, ReadStats, read_path_list
from ..io.turn_records import is_saved_scores, iter_saved_scores, tasks_of_saved
from ..pipeline.accounting import Counts
from ..pipeline.aggregation import dialogue_score, metric_names
from ..reporting.comparison import delta_table, largest_drops, pair, saved_row
from ..reporting.gating import GateEvaluation, drop_gates, estimates_from_table, plan_gates
from ..reporting.junit import junit_bytes
from ..reporting.metric_catalog import catalog, directions, ranges
from ..reporting.statistics import BootstrapSettings
from ..reporting.summary import DialogueRow
from ..reporting.transcripts import Transcript, sort_metric, transcript_of
from .score_run import check_outputs, gate_warnings, score_files, validity_of
from .scorer import Scorer

COMPARE_SUITE = "empathy-score compare"
COMPARE_KINDS = ("json", "junit", "html", "md")
DROPS_SHOWN = 20              # dialogues that dropped most, shown side by side in the HTML report


@dataclass
class CompareResult:
    result: dict                              # what the .json output holds
    table: dict[str, dict]                    # per metric: direction, both means, the delta and its CI
    pairing: object                           # reporting.comparison.Pairing
    gates: GateEvaluation | None = None


def compare_files(baseline: str, candidate: str, options: ReaderOptions, make_scorer: Callable[[], Scorer],
                  model: str | None = None, bootstrap: BootstrapSettings | None = None,
                  max_drop: tuple[str, ...] = (), gate_on: str = "ci", min_dialogues: int = 1,
                  outputs: tuple[str, ...] = ()) -> CompareResult:
    """Compare two releases over the same conversations. Each side is a dialogue log (scored now by
    the scorer `make_scorer()` builds, once) or a per-turn .jsonl saved by `score`; dialogues are
    paired by id; deltas are candidate - baseline with a paired bootstrap CI; `max_drop` gates
    (METRIC=DELTA) judge the deltas. Writes `outputs`: .json (the comparison), .junit.xml (gates),
    .md (a short summary), .html (the report; its side-by-side transcripts of the dialogues that
    dropped most are read again from both inputs, so neither may be stdin)."""
    kinds = check_outputs(outputs, COMPARE_KINDS, "compare")
    check_output_paths([baseline, candidate], list(outputs))
    if "html" in kinds and "-" in (baseline, candidate):
        raise UsageError("compare -o *.html reads both inputs twice (for the transcripts of the dialogues "
                         "that dropped most), so neither may be stdin ('-'): give files")
    with locked_outputs(outputs):
        return _compared(baseline, candidate, options, make_scorer, model, bootstrap, max_drop, gate_on,
                         min_dialogues, outputs, kinds)


def _compared(baseline, candidate, options, make_scorer, model, bootstrap, max_drop, gate_on, min_dialogues,
              outputs, kinds) -> CompareResult:
    """compare_files once its outputs are checked and locked."""
    sides = {path: "scores" if is_saved_scores(path) else "log" for path in (baseline, candidate)}
    scorer_once = functools.cache(make_scorer)       # the model loads only if a log needs scoring

    if "log" in sides.values():
        bundle = scorer_once().bundle
    elif model:
        bundle = load_bundle(model)
    else:
        bundle = None
    tasks, dims = (bundle.tasks, bundle.perceived) if bundle else tasks_of_saved(baseline)
    metric_directions = directions(tasks, dims)
    plan = plan_gates(drop_gates(max_drop, metric_directions, ranges(tasks, dims)), gate_on, min_dialogues, bootstrap,
                      metric_directions, subject="delta ", unit="paired dialogues",
                      validity_warnings=gate_warnings(bundle, tasks, dims))

    def rows_of(path: str) -> list[DialogueRow]:
        if sides[path] == "scores":
            return read_saved_rows(path, tasks, dims)
        return score_files(scorer_once(), [path], options, []).rows

    base_rows, cand_rows = rows_of(baseline), rows_of(candidate)
    pairing = pair(base_rows, cand_rows)
    names = metric_names(tasks, dims)
    table = delta_table(base_rows, cand_rows, pairing, names, metric_directions, bootstrap)
    evaluation = plan.evaluate(estimates_from_table(table, mean_key="delta")) if plan else None
    result = {"signature": bundle.signature() if bundle else None,
              "baseline": {"input": baseline, "kind": sides[baseline], "n_dialogues": len(base_rows)},
              "candidate": {"input": candidate, "kind": sides[candidate], "n_dialogues": len(cand_rows)},
              "pairing": pairing.to_dict(),
              "bootstrap": bootstrap.to_dict() if bootstrap else {"unit": "dialogue", "n_resamples": 0},
              "metrics": table}
    if evaluation is not None:
        result["gates"] = evaluation.to_list()
    def html() -> str:
        from ..reporting.html_report import compare_report
        metric = sort_metric(names)
        drops = largest_drops(base_rows, cand_rows, pairing, metric, metric_directions[metric], DROPS_SHOWN)
        ids = {dialogue_id for dialogue_id, _ in drops}
        found = {path: transcripts_of(path, sides[path], ids, options, scorer_once, tasks, dims)
                 for path in (baseline, candidate)}
        shown = [{"dialogue_id": i, "delta": delta, "baseline": found[baseline].get(i),
                  "candidate": found[candidate].get(i)} for i, delta in drops]
        return compare_report(result, catalog(tasks, dims, validity_of(bundle)), tasks, dims, shown, metric)

    def markdown() -> str:
        from ..reporting.markdown_summary import compare_markdown
        return compare_markdown(result)
    write_outputs(zip(outputs, kinds), {"json": lambda: json_text(result), "md": markdown, "html": html,
                                        "junit": lambda: junit_bytes(evaluation, COMPARE_SUITE)})
    return CompareResult(result=result, table=table, pairing=pairing, gates=evaluation)


def transcripts_of(path: str, kind: str, ids: set[str], options: ReaderOptions, scorer: Callable[[], Scorer],
                   tasks, dims) -> dict[str, Transcript]:
    """The transcripts of the dialogues `ids` in one compare input, read again: from a log, those
    dialogues are scored again (scores do not depend on batching: tests/test_determinism.py); from a
    saved per-turn file, their records are read back."""
    if not ids:
        return {}
    if kind == "scores":
        return {u[0].dialogue_id: transcript_of(dialogue_score(u[0].dialogue_id, u, tasks, dims))
                for u in iter_saved_scores(path, tasks, dims) if u[0].dialogue_id in ids}
    wanted = (d for d in read_path_list([path], options, ReadStats()) if d.dialogue_id in ids)
    return {scored.dialogue_id: transcript_of(scored)
            for scored in scorer().iter_scores(wanted, Counts(), options.on_error)}


# ---- generated responses in their context (the `evaluate` metric) ---------------------------------


def read_saved_rows(path: str, tasks, dims) -> list[DialogueRow]:
    """Per-dialogue metrics rebuilt from a saved per-turn file."""
    rows = [saved_row(utterances, tasks, dims) for utterances in iter_saved_scores(path, tasks, dims)]
    if not rows:
        raise InputError("no per-turn records", source=path)
    return rows
