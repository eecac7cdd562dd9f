"""Human ratings related to the metrics, as `empathy-score analyze` does it: read the ratings (a side
file and/or values in the log records), score the logs, match, relate (reporting/analysis.py)."""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Iterator

from ..dialogue import Dialogue
from ..errors import InputError, UsageError
from ..io.output_locks import locked_outputs
from ..io.output_paths import check_output_paths
from ..io.output_writer import json_text, write_outputs
from ..io.ratings import Rating, RatingsOptions, RecordRating, read_ratings
from ..io.readers import ReaderOptions, ReadStats, read_path_list
from ..pipeline.accounting import Counts
from ..pipeline.aggregation import metric_names
from ..reporting.analysis import analyze_rating
from ..reporting.html_report import require_report_extra
from ..reporting.rated_units import ScoredDialogue, intents, rated_units
from ..reporting.statistics import BootstrapSettings
from .run_summary import count_reads
from .score_run import ProgressCallback
from .scorer import Scorer

# Outputs of `analyze`, by extension: each writer takes the same `AnalysisResult.result` dict.
ANALYZE_OUTPUTS = {".json": "json", ".md": "md", ".html": "html"}


def analyze_output_kind(path: str) -> str:
    """The kind of an analyze -o path; a UsageError for another extension, or for .html without the
    [report] extra (checked before any work)."""
    for suffix, kind in ANALYZE_OUTPUTS.items():
        if path.lower().endswith(suffix):
            if kind == "html":
                require_report_extra(path)
            return kind
    raise UsageError(f"-o {path}: analyze writes .json (everything), .md (the tables in Markdown) or .html "
                     "(the tables in a self-contained page)")


@dataclass
class RatingsRequest:
    """Where the human ratings are: a side file and/or values in the log records (io/ratings.py)."""
    path: str | None = None
    options: RatingsOptions = field(default_factory=RatingsOptions)
    record_ratings: tuple[RecordRating, ...] = ()
    high: dict[str, float] = field(default_factory=dict)   # rating name ("" = every rating) -> threshold

    def __post_init__(self):
        if self.path is None and not self.record_ratings:
            raise UsageError("no ratings: give --ratings FILE and/or --record-rating PATH")


@dataclass
class ScoredForAnalysis:
    dialogues: dict[str, ScoredDialogue]
    record_ratings: list[Rating]           # dialogue-level ratings found in the records
    missing_in_records: dict[str, int]     # rating name -> records without a value for it
    counts: Counts


@dataclass
class AnalysisResult:
    result: dict                            # what the .json output holds
    warnings: list[str]                     # also in `result`; the CLI prints them on stderr


def score_for_analysis(scorer: Scorer, inputs: list[str], options: ReaderOptions,
                       on_dialogue: ProgressCallback | None = None) -> ScoredForAnalysis:
    """Score `inputs` as `score_files` does, keeping of each dialogue what `analyze` needs: its scored
    turns, the words of its turns (reply length) and the ratings its record carries
    (`options.record_ratings`)."""
    stats, counts = ReadStats(), Counts()
    read: dict[str, tuple[dict[int, int], int]] = {}
    found = ScoredForAnalysis({}, [], {}, counts)

    def remembered(dialogues: Iterator[Dialogue]) -> Iterator[Dialogue]:
        for dialogue in dialogues:
            if dialogue.dialogue_id not in read:       # a duplicate id is refused or skipped later
                read[dialogue.dialogue_id] = ({t.index: len(t.text.split()) for t in dialogue.turns},
                                              dialogue.turns_read)
                for name, value in dialogue.meta.get("ratings", {}).items():
                    if value is None:
                        found.missing_in_records[name] = found.missing_in_records.get(name, 0) + 1
                    else:
                        found.record_ratings.append(Rating(dialogue.dialogue_id, None, name, value,
                                                           dialogue.source or dialogue.dialogue_id))
            yield dialogue
    dialogues = remembered(read_path_list(inputs, options, stats))
    for scored in scorer.iter_scores(dialogues, counts, options.on_error):
        words, turns_read = read[scored.dialogue_id]
        found.dialogues[scored.dialogue_id] = ScoredDialogue(scored.dialogue_id, scored.utterances,
                                                             scored.metrics, words, turns_read)
        if on_dialogue:
            on_dialogue(stats.records_read, len(found.dialogues), counts.turns_scored)
    count_reads(counts, stats)
    return found


def relate_ratings(scorer: Scorer, scored: ScoredForAnalysis, ratings: list[Rating], high: dict[str, float],
                   bootstrap: BootstrapSettings | None = None, sources: dict[str, str] | None = None) -> dict:
    """Every rating (split by level: dialogue or turn) against every metric, and its intent table
    (reporting/analysis.py), with how its values matched the scored data (reporting/rated_units.py)."""
    names = metric_names(scorer.tasks, scorer.perceived)
    kinds = intents(scorer.tasks)
    by_rating: dict[tuple[str, str], list[Rating]] = {}
    for rating in ratings:
        by_rating.setdefault((rating.name, "dialogue" if rating.turn_index is None else "turn"), []).append(rating)
    analyses, warnings = [], []
    for (name, level), values in by_rating.items():
        units, matching = rated_units(values, scored.dialogues, scorer.tasks, scorer.perceived, names)
        entry = {"rating": name, "level": level, "source": (sources or {}).get(name, "ratings file"),
                 "matching": matching.to_dict()}
        if name in scored.missing_in_records:
            entry["matching"]["missing_in_records"] = scored.missing_in_records[name]
        rated = {r.dialogue_id for r in values} & scored.dialogues.keys()
        entry["scored_dialogues_without_rating"] = len(scored.dialogues) - len(rated)
        found = []
        if units is None:
            found.append("no rating matched a scored dialogue or turn")
        else:
            entry.update(analyze_rating(units, names, [n for n, _, _ in kinds], high.get(name, high.get("")),
                                        bootstrap))
            for row, (_, task, label) in zip(entry["intents"], kinds):
                row.update(task=task.name, label=label)
            found += entry.pop("warnings")
        found += [m for m in (matching.describe(),) if m]
        entry["warnings"] = found
        warnings += [f"rating '{name}' ({level} level): {w}" for w in found]
        analyses.append(entry)
    if analyses and all("agreement" not in a for a in analyses):
        sample = next(iter(scored.dialogues), None)
        raise InputError("no rating matches a scored dialogue or turn (rating ids look like "
                         f"'{ratings[0].dialogue_id}', scored dialogue ids like '{sample}'; records without "
                         "an id are named FILE:LINE, with FILE as given on the command line)")
    return {"analyses": analyses, "warnings": warnings}


def analyze_files(scorer: Scorer, inputs: list[str], options: ReaderOptions, ratings: RatingsRequest,
                  outputs: list[str] = (), bootstrap: BootstrapSettings | None = None,
                  on_dialogue: ProgressCallback | None = None) -> AnalysisResult:
    """Relate human ratings to the metrics: read the ratings (a bad line fails before any scoring),
    score `inputs`, match, compute (reporting/analysis.py), write `outputs` (.json, .md)."""
    kinds = [analyze_output_kind(path) for path in outputs]
    check_output_paths(list(inputs) + ([ratings.path] if ratings.path else []), list(outputs))
    with locked_outputs(outputs):
        return _analyzed(scorer, inputs, options, ratings, outputs, kinds, bootstrap, on_dialogue)


def _analyzed(scorer: Scorer, inputs: list[str], options: ReaderOptions, ratings: RatingsRequest,
              outputs: list[str], kinds: list[str], bootstrap: BootstrapSettings | None,
              on_dialogue: ProgressCallback | None) -> AnalysisResult:
    """analyze_files once its outputs are checked and locked."""
    side = read_ratings(ratings.path, ratings.options) if ratings.path else None
    carried = {r.name for r in ratings.record_ratings}
    clash = sorted(carried & set(side.columns if side else ()))
    if clash:
        raise UsageError(f"rating '{clash[0]}' is both a --record-rating and a column of {ratings.path}: "
                         "name the record rating otherwise (NAME=PATH)")
    options = replace(options, record_ratings=ratings.record_ratings)
    scored = score_for_analysis(scorer, inputs, options, on_dialogue)
    sources = {r.name: f"records: {r.path}" for r in ratings.record_ratings}
    related = relate_ratings(scorer, scored, scored.record_ratings + (side.ratings if side else []),
                             ratings.high, bootstrap, sources)
    result = {"signature": scorer.bundle.signature(), "settings": scorer.settings(), "inputs": list(inputs),
              "counts": scored.counts.to_dict(), "ratings_file": side.to_dict() if side else None,
              "record_ratings": [{"name": r.name, "path": r.path} for r in ratings.record_ratings],
              "bootstrap": bootstrap.to_dict() if bootstrap else {"unit": "dialogue", "n_resamples": 0},
              **related}
    def html() -> str:
        from ..reporting.html_report import analysis_report
        return analysis_report(result)

    def markdown() -> str:
        from ..reporting.analysis_markdown import analysis_markdown
        return analysis_markdown(result)
    write_outputs(zip(outputs, kinds), {"json": lambda: json_text(result), "md": markdown, "html": html})
    return AnalysisResult(result=result, warnings=related["warnings"])
