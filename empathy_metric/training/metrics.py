"""The paper's evaluation: per label macro P/R/F1 over its classes and accuracy, then means over labels.

ESConv strategies are scored one-vs-rest ("no intent"/"has intent") per strategy, as the paper does
(its Table 4 averages over 7 strategies: "Others" is not an intent and is left out of the mean).
EMH labels are scored over their three levels. Perceived scores: Spearman and ROC-AUC of the
dialogue mean against the seeker survey.
"""
from __future__ import annotations

import numpy as np
from scipy.stats import spearmanr
from sklearn.metrics import accuracy_score, precision_recall_fscore_support, roc_auc_score

from ..schemas import Task

NOT_AN_INTENT = "Others"


def label_scores(gold: np.ndarray, pred: np.ndarray) -> dict[str, float]:
    p, r, f, _ = precision_recall_fscore_support(gold, pred, average="macro", zero_division=0)
    return {"precision": float(p), "recall": float(r), "f1": float(f),
            "accuracy": float(accuracy_score(gold, pred)), "n": int(len(gold))}


def task_report(task: Task, gold: np.ndarray, pred: np.ndarray) -> dict:
    """Per-label rows and their mean, for one task (gold/pred are class indices)."""
    if task.ordinal or len(task.labels) <= 2:
        rows = {task.name: label_scores(gold, pred)}
    else:                                    # one-vs-rest per intent
        rows = {f"{task.name}:{label}": label_scores(gold == k, pred == k)
                for k, label in enumerate(task.labels) if label != NOT_AN_INTENT}
    mean = {m: float(np.mean([r[m] for r in rows.values()]))
            for m in ("precision", "recall", "f1", "accuracy")}
    mean["n"] = int(len(gold))
    return {"labels": rows, "mean": mean}


def dataset_mean(reports: list[dict]) -> dict:
    """Mean over all label rows of several tasks (the paper's table row for one data set)."""
    rows = [r for rep in reports for r in rep["labels"].values()]
    return {m: float(np.mean([r[m] for r in rows])) for m in ("precision", "recall", "f1", "accuracy")}


def perceived_report(dialogue_scores: np.ndarray, survey: np.ndarray, high: float) -> dict:
    """Spearman of dialogue-mean scores with the survey, and ROC-AUC for 'survey >= high'."""
    keep = ~np.isnan(survey)
    scores, truth = dialogue_scores[keep], survey[keep]
    result = {"n_dialogues": int(keep.sum())}
    if keep.sum() > 2:
        rho, p = spearmanr(scores, truth)
        result.update(spearman=float(rho), spearman_p=float(p))
        positive = truth >= high
        if 0 < positive.sum() < len(positive):
            result["roc_auc"] = float(roc_auc_score(positive, scores))
            result["positive_threshold"] = high
    return result


def format_table(rows: dict[str, dict]) -> str:
    """A plain-text table laid out like the paper's Table 4 (values in %)."""
    head = f"{'data / label':<44} {'macro-P':>8} {'macro-R':>8} {'macro-F1':>8} {'accuracy':>8}"
    lines = [head, "-" * len(head)]
    for name, r in rows.items():
        lines.append(f"{name:<44} {100 * r['precision']:8.1f} {100 * r['recall']:8.1f} "
                     f"{100 * r['f1']:8.1f} {100 * r['accuracy']:8.1f}")
    return "\n".join(lines)
