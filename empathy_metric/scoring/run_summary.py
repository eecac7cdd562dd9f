"""The summary of a scoring run, assembled once for the local engine (score_run.py) and for Ray's
per-turn records (distributed.summarize): signature, settings, inputs, counts, corpus table with
bootstrap CIs, per-dialogue rows, and the gates judged on it."""
from __future__ import annotations

from ..io.readers import ReadStats
from ..pipeline.accounting import Counts
from ..reporting.headline import references_of
from ..reporting.gating import GateEvaluation, GatePlan
from ..reporting.tail_gates import gate_estimates
from ..reporting.statistics import BootstrapSettings
from ..reporting.summary import DialogueRow, build_summary, corpus_table


def run_summary(scorer, inputs: list[str], counts: Counts, rows: list[DialogueRow],
                bootstrap: BootstrapSettings | None, gates: GatePlan | None,
                extra: dict | None = None) -> tuple[dict, GateEvaluation | None]:
    """(the summary, the gates' evaluation, also in the summary). `scorer`: a scoring.Scorer."""
    summary = build_summary(scorer.bundle.signature(), scorer.settings(), list(inputs), counts.to_dict(),
                            corpus_table(rows, bootstrap), rows, extra)
    summary["bootstrap"] = bootstrap.to_dict() if bootstrap else {"unit": "dialogue", "n_resamples": 0}
    summary["references"] = references_of(scorer.bundle.manifest)      # the headline's reference points
    # the corpus means and the tail gates' shares of dialogues
    evaluation = gates.evaluate(gate_estimates(summary["corpus"], rows, gates, bootstrap)) if gates else None
    if evaluation is not None:
        summary["gates"] = evaluation.to_list()
    return summary, evaluation


def count_reads(counts: Counts, stats: ReadStats) -> None:
    """The reader's record counts into the run's counts."""
    counts.records_read = stats.records_read
    for reason, n in stats.records_skipped.items():
        counts.records_skipped[reason] = counts.records_skipped.get(reason, 0) + n
