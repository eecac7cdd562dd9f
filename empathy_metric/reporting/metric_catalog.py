"""Every metric name a model produces, with its direction (is higher better?) and what it means.

Names come from `aggregation.metric_names`; this module only adds what a reader and a gate need.
Directions:
- `perceived.<dim>`: higher is better;
- `<ordinal task>.mean_level` (EMH none/weak/strong): higher is better;
- rates of an ordinal task: the first level (EMH `none`) lower is better, the last level (`strong`)
  higher is better, middle levels (`weak`) are descriptive;
- `repetition.rate` (no model): lower is better;
- rates of a nominal task (ESConv strategies, customer-service intents): descriptive ("none"):
  a good supporter uses a mix, so no single strategy's share is better when higher.
A corpus value is the mean over dialogues of the per-dialogue value.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, replace

from ..schemas import Task

HIGHER, LOWER, NONE = "higher", "lower", "none"
# What the project's perceived dimensions mean (0..1); a bundle may describe its own in its manifest.
PERCEIVED_MEANINGS = {
    "empathy": "empathy (expected third-party perceived-empathy rating of the turn / 5)",
    "helpfulness": "helpfulness (expected seeker view of the reply: fits and helps; weakly supervised)",
    "relevance": "relevance (the reply belongs to this conversation: it fits the turns before and after it; "
                 "replies from other conversations score low)",
    "improvement": "improvement (seeker's emotion intensity, before minus after the chat)",
    "understanding": "understanding (the reply engages with this person's situation: real replies score "
                     "above generic lines and replies from other conversations)",
}


# Below this dialogue-level r with human judgements a metric is mostly noise for a gate: gating on it
# (or on one never measured) adds a warning to the verdict (see the README, "Which metrics can I gate on?").
VALIDITY_FLOOR = 0.4
# Metrics validated as detectors of one kind of bad release rather than against ratings (manifest
# `validity`): (group, entry, the bots it catches, the contrast measured on held-out turns).
DETECTORS = (("real_vs_generic_auc", "all_generic_sympathy", "generic bots", "real vs stock sympathy"),
             ("real_vs_negative_auc", "all_swapped_other", "off-topic bots", "real vs another conversation's reply"))
DETECTOR_AUC_FLOOR = 0.8      # such a detector is gated on (`gates suggest`) from this held-out ROC-AUC up


def finite_number(value) -> float | None:
    """A manifest value as a float when it is a finite number (not a bool), else None: what counts as
    measured, for gate warnings and the report alike."""
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) \
        and math.isfinite(value) else None


def detector_validation(entry: dict | None) -> tuple[str, str, float] | None:
    """(the bots it catches, the contrast, ROC-AUC) when a metric's validity entry records it as a
    detector of a bad release; else None."""
    for group, key, bots, contrast in DETECTORS:
        detected = ((entry or {}).get(group) or {}).get(key)
        auc = finite_number(detected.get("auc")) if isinstance(detected, dict) else None
        if auc is not None:
            return bots, contrast, auc
    return None


@dataclass(frozen=True)
class MetricInfo:
    name: str
    direction: str          # higher | lower | none (descriptive: no better side)
    range: str              # the values a corpus mean can take
    meaning: str
    validity: dict | None = None    # the model's measured validity of this metric (manifest `validity`)
    # What the model scores on named reference releases (manifest `references`, reporting/headline.py):
    # [{"name", "value", "ci", "source"}], by value; empty when none were measured.
    references: tuple = ()
    model_free: bool = False        # computed from the text alone: no agreement with people to measure

    def to_dict(self) -> dict:
        return {**asdict(self), "references": list(self.references)}

    @property
    def validity_warning(self) -> str | None:
        """Why a gate on this metric may be noise, or None when its measured validity is above the floor."""
        if self.model_free:
            return None
        if not self.validity:
            return f"the model ships no measured validity for {self.name}"
        r = finite_number(self.validity.get("dialogue_r"))
        if r is None:
            return f"{self.name}'s agreement with human judgements could not be measured"
        if r < VALIDITY_FLOOR:
            return (f"{self.name} agrees weakly with human judgements (dialogue-level r {r:.2f} < "
                    f"{VALIDITY_FLOOR} on {self.validity.get('data', 'held-out data')})")
        return None


def _rate_direction(task: Task, position: int) -> str:
    if not task.ordinal:
        return NONE
    if position == 0:
        return LOWER
    if position == len(task.labels) - 1:
        return HIGHER
    return NONE


def catalog(tasks: list[Task], perceived_dims: list[str], validity: dict | None = None,
            references: dict[str, list[dict]] | None = None) -> list[MetricInfo]:
    """One entry per metric, in the order of `aggregation.metric_names` (a test checks they agree);
    `validity` is a bundle manifest's `validity` block, `references` its reference points per metric
    (headline.references_of)."""
    measured = (validity or {}).get("metrics", {}) if isinstance(validity, dict) else {}
    measured = measured if isinstance(measured, dict) else {}
    # numpy-free at import: the CLI imports this module for --help
    from ..pipeline.aggregation import REPETITION, slug
    from ..pipeline.repetition import REPEAT_THRESHOLD
    infos = []
    for task in tasks:
        for position, label in enumerate(task.labels):
            definition = task.definitions.get(label, "")
            infos.append(MetricInfo(
                name=f"{task.name}.rate.{slug(label)}", direction=_rate_direction(task, position),
                range="0..1",
                meaning=f"share of agent turns whose {task.name} label is '{label}'"
                        + (f" ({definition.rstrip('.')})" if definition else "")))
        if task.ordinal:
            levels = ", ".join(f"{k} = {label}" for k, label in enumerate(task.labels))
            infos.append(MetricInfo(
                name=f"{task.name}.mean_level", direction=HIGHER, range=f"0..{len(task.labels) - 1}",
                meaning=f"mean {task.name} level of agent turns ({levels})"))
    for dim in perceived_dims:
        infos.append(MetricInfo(
            name=f"perceived.{dim}", direction=HIGHER, range="0..1",
            meaning=f"mean predicted perceived {PERCEIVED_MEANINGS.get(dim, dim)} of agent turns "
                    "(0 = low, 1 = high)"))
    infos.append(MetricInfo(
        name=REPETITION, direction=LOWER, range="0..1", model_free=True,
        meaning=f"share of agent turns nearly repeating an earlier agent turn of the dialogue (word-sequence "
                f"similarity >= {REPEAT_THRESHOLD}; no model)"))
    # a malformed entry (not an object) counts as not measured
    return [replace(info, validity=entry if isinstance(entry := measured.get(info.name), dict) else None,
                    references=tuple((references or {}).get(info.name, ())))
            for info in infos]


def validity_warnings(tasks: list[Task], perceived_dims: list[str], validity: dict | None) -> dict[str, str]:
    """Metric -> why a gate on it may be noise, for every metric below the floor or never measured."""
    warnings = {info.name: info.validity_warning for info in catalog(tasks, perceived_dims, validity)}
    return {name: warning for name, warning in warnings.items() if warning}


def ranges(tasks: list[Task], perceived_dims: list[str]) -> dict[str, tuple[float, float]]:
    """Metric name -> (lowest, highest) value its corpus mean can take (the catalog's `range`)."""
    found = {}
    for info in catalog(tasks, perceived_dims):
        low, _, high = info.range.partition("..")
        found[info.name] = (float(low), float(high))
    return found


def directions(tasks: list[Task], perceived_dims: list[str]) -> dict[str, str]:
    return directions_of(catalog(tasks, perceived_dims))


def directions_of(infos: list[MetricInfo]) -> dict[str, str]:
    return {info.name: info.direction for info in infos}


def grouped(names: list[str]) -> list[tuple[str, list[str]]]:
    """Consecutive names by prefix (all but the last dotted part), e.g. ("esconv_strategy.rate",
    ["question", ...]): tables show the prefix once and the last part per row, so that an 80-column
    terminal never cuts a name."""
    groups: list[tuple[str, list[str]]] = []
    for name in names:
        prefix, _, leaf = name.rpartition(".")
        if groups and groups[-1][0] == prefix:
            groups[-1][1].append(leaf)
        else:
            groups.append((prefix, [leaf]))
    return groups
