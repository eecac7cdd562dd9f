"""Dialogue-level and corpus-level aggregates. Pure functions over UtteranceScores.

Metric names (stable, part of the public output):
- `<task>.rate.<label_slug>`: share of the dialogue's scored turns with that label;
- `<task>.mean_level`: mean level (0 = first label) for ordinal tasks (EMH none/weak/strong);
- `perceived.<dim>`: mean per-turn perceived score.
The corpus value of a metric is the mean over dialogues (each dialogue weighs the same).
"""
from __future__ import annotations

import re

import numpy as np

from .decoding import UtteranceScore
from ..schemas import Task


def slug(label: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", label.lower()).strip("_")


def metric_names(tasks: list[Task], perceived_dims: list[str]) -> list[str]:
    names = []
    for task in tasks:
        names += [f"{task.name}.rate.{slug(label)}" for label in task.labels]
        if task.ordinal:
            names.append(f"{task.name}.mean_level")
    return names + [f"perceived.{d}" for d in perceived_dims]


def dialogue_metrics(utterances: list[UtteranceScore], tasks: list[Task],
                     perceived_dims: list[str]) -> dict[str, float]:
    metrics: dict[str, float] = {}
    n = len(utterances)
    for task in tasks:
        levels = np.array([task.labels.index(u.labels[task.name]) for u in utterances])
        for k, label in enumerate(task.labels):
            metrics[f"{task.name}.rate.{slug(label)}"] = float((levels == k).mean()) if n else 0.0
        if task.ordinal:
            metrics[f"{task.name}.mean_level"] = float(levels.mean()) if n else 0.0
    for dim in perceived_dims:
        metrics[f"perceived.{dim}"] = float(np.mean([u.perceived[dim] for u in utterances]))
    return metrics


def corpus_means(per_dialogue: list[dict[str, float]]) -> dict[str, float]:
    if not per_dialogue:
        return {}
    return {name: float(np.mean([d[name] for d in per_dialogue])) for name in per_dialogue[0]}
