"""Dialogue-level and corpus-level aggregates. Pure functions over UtteranceScores.

Metric names (stable, part of the public output):
- `<task>.rate.<label_slug>`: the estimated share of the dialogue's scored turns with that label, by
  the task's rate estimator (quantification.py: the share of argmax labels, the mean calibrated
  probability, or the adjusted share);
- `<task>.mean_level`: mean level (0 = first label) for ordinal tasks (EMH none/weak/strong), from
  the rates;
- `perceived.<dim>`: mean per-turn perceived score;
- `repetition.rate`: the share of agent turns nearly repeating an earlier agent turn of the dialogue
  (repetition.py; from the turns' text, no model).
The corpus value of a metric is the mean over dialogues (each dialogue weighs the same).
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np

from ..dialogue import Turn
from ..schemas import Task
from .decoding import UtteranceScore
from .quantification import quantifier
from .repetition import repeats

REPETITION = "repetition.rate"


def slug(label: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", label.lower()).strip("_")


def metric_names(tasks: list[Task], perceived_dims: list[str]) -> list[str]:
    names = []
    for task in tasks:
        names += [f"{task.name}.rate.{slug(label)}" for label in task.labels]
        if task.ordinal:
            names.append(f"{task.name}.mean_level")
    return names + [f"perceived.{d}" for d in perceived_dims] + [REPETITION]


def dialogue_metrics(utterances: list[UtteranceScore], tasks: list[Task],
                     perceived_dims: list[str]) -> dict[str, float]:
    metrics: dict[str, float] = {}
    n = len(utterances)
    for task in tasks:
        weights = turn_weights(utterances, task) if n else np.zeros((1, len(task.labels)))
        rates = weights.mean(axis=0)
        for k, label in enumerate(task.labels):
            metrics[f"{task.name}.rate.{slug(label)}"] = float(rates[k])
        if task.ordinal:        # each turn's (expected) level, then their mean
            metrics[f"{task.name}.mean_level"] = float((weights @ np.arange(len(task.labels))).mean())
    for dim in perceived_dims:
        metrics[f"perceived.{dim}"] = float(np.mean([u.perceived[dim] for u in utterances]))
    flags = repeat_flags(utterances)
    metrics[REPETITION] = float(np.mean(flags)) if flags else 0.0
    return metrics


def repeat_flags(utterances: list[UtteranceScore]) -> list[bool]:
    """Each turn's near-repeat flag: as recorded (read back from a per-turn file), else from the texts
    in dialogue order, whatever order the turns were scored or read back in."""
    if all(u.repeats is not None for u in utterances):
        return [bool(u.repeats) for u in utterances]
    ordered = sorted(range(len(utterances)), key=lambda k: utterances[k].turn_index)
    found = repeats([utterances[k].text for k in ordered])
    flags = [False] * len(utterances)
    for k, flag in zip(ordered, found):
        flags[k] = flag
    return flags


def turn_weights(utterances: list[UtteranceScore], task: Task) -> np.ndarray:
    """[turns, labels]: what each turn adds to each rate, from the written per-turn record alone (so
    that scores read back by --resume aggregate exactly as fresh ones)."""
    estimator = quantifier(task)
    if estimator.estimator == "pcc":
        return np.array([[u.probs[task.name][label] for label in task.labels] for u in utterances])
    levels = np.array([task.labels.index(u.labels[task.name]) for u in utterances])
    return estimator.label_weights(levels, len(task.labels))


@dataclass
class DialogueScore:
    """One dialogue's scored utterances and its metrics."""
    dialogue_id: str
    utterances: list[UtteranceScore]
    metrics: dict[str, float]
    n_turns: int
    reused_from: str | None = None     # these scores were read back from this file (--resume), not computed
    # Every conversation turn of the dialogue (context ones too), for transcripts; empty when the
    # scores were rebuilt from a per-turn file.
    turns: list[Turn] = field(default_factory=list)
    windows_truncated: int = 0
    # Scored in a --workers process: its per-turn output text by format (io.writers), rendered there;
    # `utterances` then come back only when the run needs them (transcripts, analyze).
    rendered: dict = field(default_factory=dict)


def dialogue_score(dialogue_id: str, utterances: list[UtteranceScore], tasks: list[Task],
                   perceived_dims: list[str], reused_from: str | None = None,
                   turns: list[Turn] | None = None) -> DialogueScore:
    for utterance, flag in zip(utterances, repeat_flags(utterances)):
        utterance.repeats = flag            # the whole dialogue is here: its records carry the flag
    return DialogueScore(dialogue_id=dialogue_id, utterances=utterances,
                         metrics=dialogue_metrics(utterances, tasks, perceived_dims), n_turns=len(utterances),
                         reused_from=reused_from, turns=list(turns or []),
                         windows_truncated=sum(u.truncated for u in utterances))


def corpus_means(per_dialogue: list[dict[str, float]]) -> dict[str, float]:
    if not per_dialogue:
        return {}
    return {name: float(np.mean([d[name] for d in per_dialogue])) for name in per_dialogue[0]}
