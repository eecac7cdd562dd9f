"""How trained outputs agree with held-out labels: the early-stopping score, the per-data-set report
(macro P/R/F1 per label, perceived correlations), and the calibration offsets fitted on validation."""
from __future__ import annotations

import numpy as np

from ..schemas import PERCEIVED_DIMENSIONS, Task
from .calibration import apply_bias, fit_offsets
from .data import LabelledWindow
from .evaluation import classification_report, grouped_means, perceived_dialogue_report
from .splits import GROUPS


def validation_score(tasks: list[Task]):
    """Early-stopping score: mean over data sets of the mean macro-F1 over labels, and of the Pearson r
    of each rated perceived dimension with its turn-level ratings (WASSA empathy)."""
    def score(outputs: dict, labelled: list) -> float:
        logits = {t.name: outputs[f"logits.{t.name}"] for t in tasks}
        reports = classification_report(tasks, logits, [x.labels for x in labelled])
        values = [m["f1"] for m in grouped_means(reports, GROUPS).values()]
        values += [r for r in turn_correlations(outputs, labelled).values()]
        return float(np.mean(values)) if values else 0.0
    return score


def turn_correlations(outputs: dict, labelled: list, source: str = "wassa") -> dict[str, float]:
    """Pearson r of each perceived dimension with its turn-level ratings, on `source`'s windows."""
    rows = [i for i, x in enumerate(labelled) if x.source == source]
    if "perceived" not in outputs or not rows:
        return {}
    found = {}
    for k, dim in enumerate(PERCEIVED_DIMENSIONS[:outputs["perceived"].shape[1]]):
        truth = np.array([labelled[i].perceived[k] for i in rows], dtype=np.float64)
        known = ~np.isnan(truth)
        if known.sum() > 2:
            found[dim] = float(np.corrcoef(outputs["perceived"][rows][known, k], truth[known])[0, 1])
    return found


def evaluate_outputs(tasks: list[Task], outputs: dict, labelled: list[LabelledWindow],
                     bias: dict | None = None) -> dict:
    logits = {t.name: outputs[f"logits.{t.name}"] for t in tasks}
    if bias:
        logits = apply_bias(logits, bias)
    reports = classification_report(tasks, logits, [x.labels for x in labelled])
    result = {"tasks": reports, "means": grouped_means(reports, GROUPS)}
    correlations = turn_correlations(outputs, labelled)
    if correlations:
        result["perceived_turn_pearson"] = correlations
    if "perceived" in outputs:
        rows = [i for i, x in enumerate(labelled) if x.source == "esconv" and not np.isnan(x.perceived).all()]
        if rows:
            result["perceived"] = perceived_dialogue_report(
                list(PERCEIVED_DIMENSIONS), outputs["perceived"][rows], [labelled[i].group for i in rows],
                np.stack([labelled[i].perceived for i in rows]))
    return result


def calibration_offsets(recipe, rule: str, train: list[LabelledWindow], valid: list[LabelledWindow]) -> dict:
    if rule == "none" or not valid:
        return {}
    outputs = recipe.predict([x.window for x in valid])
    return fit_offsets(rule, recipe.tasks, [x.labels for x in train],
                       {t.name: outputs[f"logits.{t.name}"] for t in recipe.tasks}, [x.labels for x in valid])
