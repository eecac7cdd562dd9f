"""The Python API: the names the CLI, the `evaluate` metric, the training side's evaluation, tests and
benchmarks use. The work is done in `empathy_metric/scoring/` (README: "How the code is organised").

- `Scorer`: a bundle and its backend. `score(dialogues)` in memory, `iter_scores(...)` streaming one
  dialogue at a time, `score_windows(windows)` for windows cut elsewhere.
- `score_files`: one scoring run as `empathy-score score` does it: read -> score -> per-turn files ->
  summary with CIs -> gates.
- `compare_files`: two releases over the same conversations, paired by dialogue id (`compare`).
- `score_responses`: generated responses in their context (the `evaluate` metric).
- `analyze_files`: human ratings related to the metrics (`analyze`): agreement and the intent table.
"""
from __future__ import annotations

from .scoring.analyze_run import (ANALYZE_OUTPUTS, AnalysisResult, RatingsRequest, ScoredForAnalysis,
                                  analyze_files, analyze_output_kind, relate_ratings, score_for_analysis)
from .scoring.chunking import KnownScores
from .scoring.compare_run import (COMPARE_KINDS, COMPARE_SUITE, DROPS_SHOWN, CompareResult, compare_files,
                                  transcripts_of)
from .scoring.cpu_stages import CpuStages
from .scoring.engine import Engine
from .scoring.responses import AGENT, USER, context_list, prediction_text, response_dialogue, score_responses
from .scoring.score_run import (ProgressCallback, RunResult, check_outputs, gate_warnings,
                                score_files, score_kinds, validity_of)
from .scoring.scorer import Scorer, ScoreResult

__all__ = [
    "ANALYZE_OUTPUTS", "AnalysisResult", "RatingsRequest", "ScoredForAnalysis", "analyze_files",
    "analyze_output_kind", "relate_ratings", "score_for_analysis", "KnownScores", "COMPARE_KINDS",
    "COMPARE_SUITE", "DROPS_SHOWN", "CompareResult", "compare_files", "transcripts_of", "CpuStages", "Engine",
    "AGENT", "USER", "context_list", "prediction_text", "response_dialogue", "score_responses",
    "ProgressCallback", "RunResult", "check_outputs", "gate_warnings", "score_files",
    "score_kinds", "validity_of", "Scorer", "ScoreResult",
]
