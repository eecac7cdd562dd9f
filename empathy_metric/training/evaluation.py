"""Scores predictions against gold labels: the same report for torch checkpoints and bundles."""
from __future__ import annotations

import numpy as np

from ..schemas import Task
from .metrics import dataset_mean, perceived_report, task_report

SURVEY_HIGH = {"empathy": 1.0, "relevance": 1.0, "improvement": 0.75}   # survey 5/5; improved by >= 2


def classification_report(tasks: list[Task], logits: dict[str, np.ndarray],
                          gold: list[dict[str, int]]) -> dict:
    """`logits[task]` rows align with `gold`; rows without a gold label for a task are ignored."""
    reports = {}
    for task in tasks:
        rows = [i for i, g in enumerate(gold) if task.name in g]
        if not rows:
            continue
        truth = np.array([gold[i][task.name] for i in rows])
        pred = logits[task.name][rows].argmax(-1)
        reports[task.name] = task_report(task, truth, pred)
    return reports


def grouped_means(reports: dict, groups: dict[str, list[str]]) -> dict:
    return {name: dataset_mean([reports[t] for t in tasks if t in reports])
            for name, tasks in groups.items() if any(t in reports for t in tasks)}


def perceived_dialogue_report(dims: list[str], scores: np.ndarray, dialogue_ids: list[str],
                              targets: np.ndarray) -> dict:
    """Mean per-turn score per dialogue vs that dialogue's survey target (scaled 0..1)."""
    ids = sorted(set(dialogue_ids))
    index = {d: i for i, d in enumerate(ids)}
    rows = np.array([index[d] for d in dialogue_ids])
    report = {}
    for k, dim in enumerate(dims):
        mean = np.array([scores[rows == i, k].mean() for i in range(len(ids))])
        truth = np.array([targets[rows == i, k][0] for i in range(len(ids))])
        report[dim] = perceived_report(mean, truth, SURVEY_HIGH.get(dim, 1.0))
    return report


def grouped_f1_intervals(tasks: list[Task], logits: dict[str, np.ndarray], gold: list[dict[str, int]],
                         dialogue_ids: list[str], groups: dict[str, list[str]], settings) -> dict:
    """Bootstrap CI of each data set's mean macro-F1 (`grouped_means`), resampling dialogues.

    Macro-F1 is not a mean of per-dialogue values, so each resample recomputes it from the windows
    of the drawn dialogues (a few ms each). `settings` is a statistics.BootstrapSettings.
    Returns {data set: {"low", "high", "n_dialogues", "confidence", "n_resamples"}}."""
    from scipy import stats
    ids = sorted(set(dialogue_ids))
    members: dict[str, list[int]] = {d: [] for d in ids}
    for row, d in enumerate(dialogue_ids):
        members[d].append(row)
    rows_of = [np.array(members[d]) for d in ids]
    names = list(grouped_means(classification_report(tasks, logits, gold), groups))
    if len(ids) < 2 or not names:
        return {}

    def statistic(sample: np.ndarray) -> np.ndarray:
        rows = np.concatenate([rows_of[i] for i in sample])
        means = grouped_means(classification_report(tasks, {k: v[rows] for k, v in logits.items()},
                                                    [gold[r] for r in rows]), groups)
        return np.array([means[name]["f1"] if name in means else np.nan for name in names])

    result = stats.bootstrap((np.arange(len(ids)),), statistic, vectorized=False,
                             n_resamples=settings.n_resamples, confidence_level=settings.confidence,
                             method=settings.method, rng=np.random.default_rng(settings.seed))
    low, high = np.atleast_1d(result.confidence_interval.low), np.atleast_1d(result.confidence_interval.high)
    return {name: {"low": float(lo), "high": float(hi), "n_dialogues": len(ids),
                   "confidence": settings.confidence, "n_resamples": settings.n_resamples}
            for name, lo, hi in zip(names, low, high)}
