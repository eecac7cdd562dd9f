"""Prior calibration: per-class logit offsets chosen on the validation split to raise macro-F1.

Rare classes (EMH "weak" is 3-4%) are under-predicted by a model trained with cross-entropy;
adding an offset to their logits trades a little precision for recall. Offsets are fitted on
validation data only, then baked into the heads before export. Two rules:

- `fit_bias`: a free offset per class, by coordinate search (2 numbers per EMH task);
- `fit_prior_bias`: logit adjustment (Menon et al., 2021), offsets -tau * log(training prior),
  one tau per task. One number fitted instead of one per class: with ~8 "weak" pairs of a
  mechanism in a validation split, the free search can fit noise.
"""
from __future__ import annotations

import numpy as np

from ..schemas import Task
from .metrics import task_report

GRID = np.round(np.arange(-2.0, 3.01, 0.25), 2)
TAUS = np.round(np.arange(0.0, 2.01, 0.25), 2)


def apply_bias(logits: dict[str, np.ndarray], bias: dict[str, list[float]]) -> dict[str, np.ndarray]:
    return {k: v + np.asarray(bias[k]) if k in bias else v for k, v in logits.items()}


def _macro_f1(task: Task, logits: np.ndarray, truth: np.ndarray, offsets: np.ndarray) -> float:
    return task_report(task, truth, (logits + offsets).argmax(-1))["mean"]["f1"]


def fit_bias(tasks: list[Task], logits: dict[str, np.ndarray], gold: list[dict[str, int]],
             rounds: int = 2) -> dict[str, list[float]]:
    bias = {}
    for task in tasks:
        rows = [i for i, g in enumerate(gold) if task.name in g]
        if len(rows) < 20:
            continue
        z, truth = logits[task.name][rows], np.array([gold[i][task.name] for i in rows])
        offsets = np.zeros(len(task.labels))
        best = _macro_f1(task, z, truth, offsets)
        for _ in range(rounds):
            for k in range(1, len(task.labels)):      # class 0 stays the reference
                for value in GRID:
                    trial = offsets.copy()
                    trial[k] = value
                    score = _macro_f1(task, z, truth, trial)
                    if score > best + 1e-9:
                        best, offsets = score, trial
        bias[task.name] = [float(x) for x in offsets]
    return bias


def fit_prior_bias(tasks: list[Task], class_counts: dict[str, list[int]], logits: dict[str, np.ndarray],
                   gold: list[dict[str, int]], taus=TAUS) -> dict[str, list[float]]:
    """Per task, offsets -tau * log(prior) (class 0 the reference) with the tau of `taus` that gives
    the best validation macro-F1; ties go to the smallest tau (tau = 0: no offsets).
    `class_counts[task]` are the training split's label counts (add-one smoothed)."""
    bias = {}
    for task in tasks:
        rows = [i for i, g in enumerate(gold) if task.name in g]
        if not rows or task.name not in class_counts:
            continue
        z, truth = logits[task.name][rows], np.array([gold[i][task.name] for i in rows])
        counts = np.asarray(class_counts[task.name], dtype=float) + 1.0
        log_prior = np.log(counts / counts.sum())
        offsets = [-(tau * (log_prior - log_prior[0])) for tau in taus]
        scores = [_macro_f1(task, z, truth, o) for o in offsets]
        bias[task.name] = [float(x) + 0.0 for x in offsets[int(np.argmax(scores))]]   # + 0.0: no -0.0
    return bias


def label_counts(tasks: list[Task], gold: list[dict[str, int]]) -> dict[str, list[int]]:
    """Training label counts per task (the priors of `fit_prior_bias`)."""
    return {t.name: [sum(1 for g in gold if g.get(t.name) == k) for k in range(len(t.labels))] for t in tasks}


RULES = ("prior", "search", "none")


def fit_offsets(rule: str, tasks: list[Task], train_gold: list[dict[str, int]], logits: dict[str, np.ndarray],
                gold: list[dict[str, int]]) -> dict[str, list[float]]:
    """Offsets by `rule` (RULES), from validation logits/gold and the training split's labels."""
    if rule == "search":
        return fit_bias(tasks, logits, gold)
    if rule == "prior":
        return fit_prior_bias(tasks, label_counts(tasks, train_gold), logits, gold)
    if rule == "none":
        return {}
    raise ValueError(f"calibration rule {rule!r}: expected one of {RULES}")
