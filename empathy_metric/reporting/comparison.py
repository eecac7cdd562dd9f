"""Compare two releases: per-dialogue metrics of a baseline and a candidate, paired by dialogue id.

Each side is a dialogue log (scored with a Scorer, as `score` does) or a saved per-turn `.jsonl`
written by `empathy-score score -o turns.jsonl`, whose dialogue metrics are rebuilt with
`aggregation.dialogue_metrics`. The delta of a metric is candidate - baseline over the dialogues
present in both; its CI resamples paired dialogues (the mean of per-dialogue deltas equals the
difference of the two corpus means on the paired set, and resampling a dialogue's delta resamples
the pair).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import InputError, UsageError
from ..pipeline.aggregation import dialogue_metrics
from ..pipeline.decoding import UtteranceScore
from ..schemas import Task
from .metric_catalog import HIGHER, LOWER
from .statistics import BootstrapSettings, mean_intervals
from .summary import DialogueRow

UNPAIRED_SHOWN = 5          # ids listed per side; the count is always complete


def saved_row(utterances: list[UtteranceScore], tasks: list[Task], dims: list[str]) -> DialogueRow:
    return DialogueRow(utterances[0].dialogue_id, len(utterances), dialogue_metrics(utterances, tasks, dims))


@dataclass
class Pairing:
    paired: list[str]              # sorted: the bootstrap then ignores input order
    only_baseline: list[str]       # in input order
    only_candidate: list[str]

    def to_dict(self) -> dict:
        return {"n_paired": len(self.paired),
                "only_in_baseline": {"count": len(self.only_baseline),
                                     "first": self.only_baseline[:UNPAIRED_SHOWN]},
                "only_in_candidate": {"count": len(self.only_candidate),
                                      "first": self.only_candidate[:UNPAIRED_SHOWN]}}

    def describe(self) -> str:
        parts = [f"paired {len(self.paired)} dialogues by id"]
        for side, ids in (("baseline", self.only_baseline), ("candidate", self.only_candidate)):
            if ids:
                more = ", ..." if len(ids) > UNPAIRED_SHOWN else ""
                parts.append(f"{len(ids)} only in {side} ({', '.join(ids[:UNPAIRED_SHOWN])}{more})")
        return "; ".join(parts)


def pair(baseline: list[DialogueRow], candidate: list[DialogueRow]) -> Pairing:
    base_ids = [r.dialogue_id for r in baseline]
    cand_ids = [r.dialogue_id for r in candidate]
    common = set(base_ids) & set(cand_ids)
    return Pairing(paired=sorted(common), only_baseline=[i for i in base_ids if i not in common],
                   only_candidate=[i for i in cand_ids if i not in common])


def delta_table(baseline: list[DialogueRow], candidate: list[DialogueRow], pairing: Pairing,
                names: list[str], directions: dict[str, str],
                bootstrap: BootstrapSettings | None) -> dict[str, dict]:
    """Per metric: direction, both means on the paired dialogues, the delta and its paired CI."""
    if not pairing.paired:
        raise InputError("no dialogue id is present in both inputs, so nothing can be paired "
                         "(records without an id get FILE:LINE ids: give --id-key)")
    base = {r.dialogue_id: r for r in baseline}
    cand = {r.dialogue_id: r for r in candidate}
    b = np.array([[base[i].metrics[n] for n in names] for i in pairing.paired], dtype=np.float64)
    c = np.array([[cand[i].metrics[n] for n in names] for i in pairing.paired], dtype=np.float64)
    delta = c - b
    intervals = mean_intervals(delta, bootstrap) if bootstrap else None
    n_turns_b = int(sum(base[i].n_turns for i in pairing.paired))
    n_turns_c = int(sum(cand[i].n_turns for i in pairing.paired))
    table = {}
    for k, name in enumerate(names):
        entry = {"direction": directions.get(name, "none"), "baseline": float(b[:, k].mean()),
                 "candidate": float(c[:, k].mean()), "delta": float(delta[:, k].mean()),
                 "n_dialogues": len(pairing.paired), "n_turns_baseline": n_turns_b,
                 "n_turns_candidate": n_turns_c}
        if intervals is not None:
            entry.update(ci_low=float(intervals.low[k]), ci_high=float(intervals.high[k]))
            if intervals.notes[k]:
                entry["ci_note"] = intervals.notes[k]
            entry["change"] = change_of(entry)
        table[name] = entry
    return table


def change_of(entry: dict) -> str:
    """"regression" when the paired CI of the delta lies wholly on the metric's bad side of 0,
    "improvement" when wholly on its good side, else "none" (no clear change, or a descriptive metric)."""
    sign = {HIGHER: 1.0, LOWER: -1.0}.get(entry["direction"])
    if sign is None:
        return "none"
    low, high = sorted((sign * entry["ci_low"], sign * entry["ci_high"]))
    if high < 0:
        return "regression"
    if low > 0:
        return "improvement"
    return "none"


def largest_drops(baseline: list[DialogueRow], candidate: list[DialogueRow], pairing: Pairing, metric: str,
                  direction: str, limit: int) -> list[tuple[str, float]]:
    """The paired dialogues whose `metric` moved most in its bad direction (descriptive metrics: down),
    as (dialogue id, delta), worst first; ties by id. Only dialogues that got worse."""
    base = {r.dialogue_id: r.metrics[metric] for r in baseline}
    cand = {r.dialogue_id: r.metrics[metric] for r in candidate}
    sign = -1.0 if direction == LOWER else 1.0
    drops = sorted((sign * (cand[i] - base[i]), i) for i in pairing.paired)
    return [(i, cand[i] - base[i]) for worse, i in drops[:limit] if worse < 0]


def _describe_scorer(stamp: dict) -> str:
    return f"{stamp.get('model')} (manifest sha256 {str(stamp.get('manifest_sha256'))[:12]})"


def check_same_scorer(stamps: dict[str, dict | None]) -> None:
    """A UsageError when two inputs were scored by different models or settings (input -> its
    `scored_by`; None: unsigned, or a log that one model scores now, which cannot differ)."""
    signed = [(path, stamp) for path, stamp in stamps.items() if stamp is not None]
    for path, stamp in signed[1:]:
        first_path, first = signed[0]
        if stamp == first:
            continue
        mine, theirs = stamp.get("settings") or {}, first.get("settings") or {}
        what = ("settings (" + ", ".join(sorted(k for k in set(mine) | set(theirs) if mine.get(k) != theirs.get(k)))
                + ")" if _describe_scorer(stamp) == _describe_scorer(first) else "models")
        raise UsageError(f"compare: {first_path} was scored by {_describe_scorer(first)} and {path} by "
                         f"{_describe_scorer(stamp)}, with different {what}: their scores cannot be paired. "
                         "Give compare the two dialogue logs instead, to score both with one model")
