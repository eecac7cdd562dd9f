"""Do a model's label *rates* track the true rates? What a gate reads is a dialogue's rate and the
corpus mean of those, so this is measured on held-out dialogues with gold labels: per metric, the
corpus bias (predicted minus true corpus rate) and the dialogue-level Pearson r of predicted against
true rates, each with a bootstrap CI over dialogues.

Also fits the rate estimators (pipeline/quantification.py) on held-back logits, per task.
"""
from __future__ import annotations

from dataclasses import replace

import numpy as np

from ..pipeline.aggregation import slug
from ..pipeline.quantification import TaskQuantifier
from ..schemas import Task
from .quantification_fit import fit_confusion, fit_vector_scaling


def fit_rates(tasks: list[Task], logits: dict[str, np.ndarray], gold: list[dict[str, int]],
              estimator: str) -> list[Task]:
    """The tasks with `rates` fitted on held-back `logits` (as the exported graph gives them) and their
    gold labels; estimator "cc" leaves them without."""
    fitted = []
    for task in tasks:
        rows = [i for i, g in enumerate(gold) if task.name in g]
        if estimator == "cc" or not rows:
            fitted.append(replace(task, rates={}))
            continue
        truth = np.array([gold[i][task.name] for i in rows])
        fit = fit_vector_scaling if estimator == "pcc" else fit_confusion
        fitted.append(replace(task, rates=fit(logits[task.name][rows], truth).to_dict()))
    return fitted


def dialogue_rates(weights: np.ndarray, groups: list[str]) -> tuple[list[str], np.ndarray]:
    """Per-dialogue mean of per-turn weights [turns, labels] -> (dialogue ids, [dialogues, labels])."""
    ids = sorted(set(groups))
    index = {d: i for i, d in enumerate(ids)}
    rows = np.array([index[g] for g in groups])
    sums = np.zeros((len(ids), weights.shape[1]))
    np.add.at(sums, rows, weights)
    return ids, sums / np.bincount(rows, minlength=len(ids))[:, None]


def rate_validity(task: Task, logits: np.ndarray, truth: np.ndarray, groups: list[str],
                  quantifier: TaskQuantifier, settings) -> dict:
    """{metric name: {true, predicted, bias, bias_ci, dialogue_r, dialogue_r_ci, n_dialogues}} for each
    label's rate (and the mean level of an ordinal task), on turns with gold labels."""
    from scipy import stats
    k = len(task.labels)
    ids, predicted = dialogue_rates(quantifier.turn_weights(logits), groups)
    _, true = dialogue_rates(np.eye(k)[truth], groups)
    names = [f"{task.name}.rate.{slug(label)}" for label in task.labels]
    if task.ordinal:
        predicted = np.column_stack([predicted, predicted @ np.arange(k)])
        true = np.column_stack([true, true @ np.arange(k)])
        names.append(f"{task.name}.mean_level")

    def statistic(sample):
        p, t = predicted[sample], true[sample]
        bias = p.mean(0) - t.mean(0)
        r = [np.corrcoef(p[:, j], t[:, j])[0, 1] if p[:, j].std() > 0 and t[:, j].std() > 0 else np.nan
             for j in range(p.shape[1])]
        return np.concatenate([bias, r])

    point = statistic(np.arange(len(ids)))
    ci = stats.bootstrap((np.arange(len(ids)),), statistic, vectorized=False, n_resamples=settings.n_resamples,
                         confidence_level=settings.confidence, method=settings.method,
                         rng=np.random.default_rng(settings.seed)).confidence_interval
    m = len(names)
    return {name: {"true": float(true[:, j].mean()), "predicted": float(predicted[:, j].mean()),
                   "bias": float(point[j]), "bias_ci": [float(ci.low[j]), float(ci.high[j])],
                   "dialogue_r": float(point[m + j]), "dialogue_r_ci": [float(ci.low[m + j]), float(ci.high[m + j])],
                   "n_dialogues": len(ids)}
            for j, name in enumerate(names)}
