"""`compare BASE CAND [CAND ...]`: each candidate against one baseline, with one model, one verdict.

Every pair is `compare_run.compare_files` (pairing by id, paired bootstrap, `--max-drop` gates). Around it:
- the inputs' signatures: a saved per-turn file carries `scored_by` (model, manifest sha256,
  settings); two that differ, or one that differs from the model scoring the logs, are refused
  (exit 2) before anything is compared;
- several candidates share the baseline: a baseline log is scored once, into a temporary per-turn
  file (with text, for the report's transcripts), and one model scores every log;
- their outputs are joined: one JSON (`{"baseline", "candidates": [...], "passed"}`), one Markdown
  (a section per candidate), one JUnit file (test cases named by candidate), one HTML page (each
  candidate's report in its own frame). One candidate gives exactly `compare_files`' outputs.
"""
from __future__ import annotations

import functools
import html
import json
import os
import tempfile
from dataclasses import dataclass, replace
from typing import Callable

from ..io.output_locks import locked_outputs
from ..io.output_paths import check_output_paths
from ..io.output_writer import json_text, write_outputs
from ..io.readers import ReaderOptions
from ..io.turn_records import is_saved_scores, scored_by, scored_by_of
from ..reporting.comparison import check_same_scorer
from ..reporting.gating import GateEvaluation
from ..reporting.junit import junit_bytes
from ..reporting.statistics import BootstrapSettings
from .compare_run import COMPARE_KINDS, COMPARE_SUITE, CompareResult, compare_files
from .score_run import check_outputs, score_files
from .scorer import Scorer


@dataclass
class ReleasesCompared:
    baseline: str
    compared: list[tuple[str, CompareResult]]      # (candidate, its comparison), in the order given

    @property
    def passed(self) -> bool:
        return all(c.gates is None or c.gates.passed for _, c in self.compared)


def compare_releases(baseline: str, candidates: list[str], options: ReaderOptions,
                     make_scorer: Callable[[], Scorer], model: str | None = None,
                     bootstrap: BootstrapSettings | None = None, max_drop: tuple[str, ...] = (),
                     gate_on: str = "ci", min_dialogues: int = 1,
                     outputs: tuple[str, ...] = ()) -> ReleasesCompared:
    kinds = check_outputs(outputs, COMPARE_KINDS, "compare")
    inputs = [baseline, *candidates]
    check_output_paths(inputs, list(outputs))
    saved = {path: is_saved_scores(path) for path in inputs}
    scorer_once = functools.cache(make_scorer)       # the model loads only if a log needs scoring

    stamps = {path: scored_by_of(path) if saved[path] else None for path in inputs}
    if not all(saved.values()):          # logs are scored now, by one model: saved scores must match it
        live = json.loads(scored_by(scorer_once().bundle.signature(), scorer_once().settings()))
        stamps = {path: stamp if saved[path] else live for path, stamp in stamps.items()}
    check_same_scorer({path if saved[path] else f"{path} (a log, scored now)": stamp for path, stamp in stamps.items()})
    settings = dict(options=options, make_scorer=scorer_once, model=model, bootstrap=bootstrap,
                    max_drop=max_drop, gate_on=gate_on, min_dialogues=min_dialogues)
    if len(candidates) == 1:
        return ReleasesCompared(baseline, [(candidates[0], compare_files(baseline, candidates[0],
                                                                          outputs=outputs, **settings))])
    with locked_outputs(outputs), tempfile.TemporaryDirectory(prefix="empathy-compare-") as folder:
        base = baseline
        if not saved[baseline]:
            base = os.path.join(folder, "baseline.turns.jsonl")
            score_files(scorer_once(), [baseline], options, [base], include_text=True)
        compared, pages = [], []
        for k, candidate in enumerate(candidates):
            page = [os.path.join(folder, f"candidate-{k}.html")] if "html" in kinds else []
            result = compare_files(base, candidate, outputs=tuple(page), **settings)
            result.result["baseline"].update(input=baseline, kind="scores" if saved[baseline] else "log")
            compared.append((candidate, result))
            pages += [(candidate, open(p, encoding="utf-8").read()) for p in page]

        joined = ReleasesCompared(baseline, compared)
        def markdown() -> str:
            from ..reporting.markdown_summary import compare_markdown
            return "\n".join(compare_markdown(c.result) for _, c in compared)
        write_outputs(zip(outputs, kinds), {
            "json": lambda: json_text({"baseline": compared[0][1].result["baseline"], "passed": joined.passed,
                                       "candidates": [c.result for _, c in compared]}),
            "md": markdown, "junit": lambda: junit_bytes(_named_gates(compared), COMPARE_SUITE),
            "html": lambda: _framed(baseline, pages)})
    return joined


def _named_gates(compared: list[tuple[str, CompareResult]]) -> GateEvaluation | None:
    """Every candidate's gate verdicts in one evaluation, each test case named by its candidate."""
    evaluations = [(name, c.gates) for name, c in compared if c.gates is not None]
    if not evaluations:
        return None
    results = [replace(r, gate=replace(r.gate, option=f"{name}: {r.gate.option}"))
               for name, evaluation in evaluations for r in evaluation.results]
    first = evaluations[0][1]
    return GateEvaluation(results, first.gate_on, first.min_dialogues)


def _framed(baseline: str, pages: list[tuple[str, str]]) -> str:
    """One self-contained page holding each candidate's report (as its own document, in a frame)."""
    sections = "\n".join(
        f'<h2>{html.escape(name)}</h2>\n<iframe title="{html.escape(name)}" style="width:100%;height:80vh;'
        f'border:1px solid #ccc" srcdoc="{html.escape(page, quote=True)}"></iframe>' for name, page in pages)
    return (f'<!doctype html>\n<html lang="en"><head><meta charset="utf-8"><title>empathy-score compare: '
            f"{len(pages)} candidates</title></head><body style=\"font-family:sans-serif\">\n"
            f"<h1>{len(pages)} candidates against {html.escape(baseline)}</h1>\n{sections}\n</body></html>\n")
