"""Compare two releases: per-dialogue metrics of a baseline and a candidate, paired by dialogue id.

Each side is a dialogue log (scored with a Scorer, as `score` does) or a saved per-turn `.jsonl`
written by `empathy-score score -o turns.jsonl`, whose dialogue metrics are rebuilt with
`aggregation.dialogue_metrics`. The delta of a metric is candidate - baseline over the dialogues
present in both; its CI resamples paired dialogues (the mean of per-dialogue deltas equals the
difference of the two corpus means on the paired set, and resampling a dialogue's delta resamples
the pair).
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Iterable, Iterator

import numpy as np

from ..errors import InputError
from ..pipeline.aggregation import dialogue_metrics
from ..pipeline.decoding import UtteranceScore
from ..schemas import DEFAULT_TASKS, Task
from .metric_catalog import HIGHER, LOWER
from .statistics import BootstrapSettings, mean_intervals
from .summary import DialogueRow

SAVED_KEYS = ("dialogue_id", "turn_index", "labels", "probs")
UNPAIRED_SHOWN = 5          # ids listed per side; the count is always complete


def is_saved_scores(path: str) -> bool:
    """True when the file's first record is a per-turn record of `empathy-score score`."""
    if path == "-":
        return False          # stdin cannot be peeked at without consuming it: read it as a log
    try:
        with open(path, "rb") as handle:
            for raw in handle:
                if raw.strip():
                    break
            else:
                return False
    except OSError as exc:
        raise InputError(f"cannot open: {exc.strerror}", source=path) from None
    try:
        record = json.loads(raw.decode("utf-8-sig"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):
        return False
    return isinstance(record, dict) and all(k in record for k in SAVED_KEYS)


def _records(path: str):
    from ..io.readers import iter_objects
    return iter_objects(path, "a per-turn JSON object")


def tasks_of_saved(path: str) -> tuple[list[Task], list[str]]:
    """Tasks (labels in `probs` order) and perceived dimensions of a saved per-turn file, for when no
    model is given. Ordinal tasks are recognised by the project's schemas (EMH none/weak/strong)."""
    known = {t.name: t for t in DEFAULT_TASKS}
    for name, line, record in _records(path):
        probs = record.get("probs")
        if not isinstance(probs, dict) or not all(isinstance(p, dict) for p in probs.values()):
            raise InputError("'probs' must map each task to {label: probability}", source=name,
                             line=line, field="probs")
        tasks = []
        for task_name, label_probs in probs.items():
            labels = tuple(label_probs)
            schema = known.get(task_name)
            tasks.append(schema if schema is not None and schema.labels == labels
                         else Task(name=task_name, labels=labels))
        perceived = record.get("perceived") or {}
        return tasks, list(perceived) if isinstance(perceived, dict) else []
    raise InputError("no per-turn records", source=path)


def _check_score(value, field: str, what: str, bad) -> None:
    """Saved probabilities and perceived scores are numbers in 0..1, as `score` writes them: anything
    else (7, 1e308) was not written by it, and would skew every mean it enters."""
    if not isinstance(value, (int, float)) or isinstance(value, bool) or not np.isfinite(value):
        raise bad(f"'{field}' must be a number", field)
    if not 0.0 <= value <= 1.0:
        raise bad(f"'{field}' is {value:g}, but {what} lies in 0..1", field)


def _utterance(record: dict, tasks: list[Task], dims: list[str], name: str, line: int) -> UtteranceScore:
    def bad(message: str, field: str) -> InputError:
        return InputError(message, source=name, line=line, field=field)
    if not isinstance(record["dialogue_id"], str):
        raise bad("'dialogue_id' must be text", "dialogue_id")
    if not isinstance(record["turn_index"], int) or isinstance(record["turn_index"], bool):
        raise bad("'turn_index' must be an integer", "turn_index")
    labels = record["labels"]
    if not isinstance(labels, dict):
        raise bad("'labels' must map each task to its label", "labels")
    if set(labels) != {t.name for t in tasks}:
        raise bad(f"'labels' has tasks {sorted(labels)}, but the model's tasks are "
                  f"{sorted(t.name for t in tasks)}: compare outputs of the same model", "labels")
    for task in tasks:
        if labels[task.name] not in task.labels:
            raise bad(f"label '{labels[task.name]}' is not one of {task.name}'s labels "
                      f"({', '.join(task.labels)})", f"labels.{task.name}")
    probs = record["probs"]
    if not isinstance(probs, dict) or not all(isinstance(probs.get(t.name), dict) for t in tasks):
        raise bad("'probs' must map each task to {label: probability}", "probs")
    for task in tasks:
        for label in task.labels:
            _check_score(probs[task.name].get(label), f"probs.{task.name}.{label}", "a probability", bad)
    perceived = record.get("perceived") or {}
    if not isinstance(perceived, dict):
        raise bad("'perceived' must map each dimension to a score", "perceived")
    for dim in dims:
        _check_score(perceived.get(dim), f"perceived.{dim}", "a score", bad)
    text = record.get("text", "")             # present when scored with --include-text
    return UtteranceScore(dialogue_id=record["dialogue_id"], turn_index=record["turn_index"],
                          role=str(record.get("role", "")), labels=labels, probs=record["probs"],
                          perceived={d: float(perceived[d]) for d in dims},
                          truncated=bool(record.get("truncated")), text=text if isinstance(text, str) else "")


def iter_saved_scores(path: str, tasks: list[Task], dims: list[str]) -> Iterator[list[UtteranceScore]]:
    """Each dialogue's scored turns read back from a saved per-turn file."""
    return group_saved_scores(_records(path), tasks, dims)


def group_saved_scores(records: Iterable[tuple[str, int, dict]], tasks: list[Task],
                       dims: list[str]) -> Iterator[list[UtteranceScore]]:
    """Per-turn records (source, line, record), as `score` writes them, grouped by dialogue. `score`
    writes a dialogue's turns together; an id that comes back after another dialogue is refused (it
    would be ambiguous)."""
    done: dict[str, int] = {}                 # dialogue id -> line of its first turn
    current: list[UtteranceScore] = []
    first_line = 0
    for name, line, record in records:
        for key in SAVED_KEYS:
            if key not in record:
                raise InputError(f"no '{key}' field (a per-turn record of empathy-score score has "
                                 + ", ".join(SAVED_KEYS) + ")", source=name, line=line, field=key)
        utterance = _utterance(record, tasks, dims, name, line)
        if current and utterance.dialogue_id != current[0].dialogue_id:
            yield current
            done[current[0].dialogue_id] = first_line
            current = []
        if not current:
            if utterance.dialogue_id in done:
                raise InputError(f"dialogue '{utterance.dialogue_id}' appears again (its turns started "
                                 f"at line {done[utterance.dialogue_id]}); a dialogue's turns must be "
                                 "consecutive", source=name, line=line, field="dialogue_id")
            first_line = line
        current.append(utterance)
    if current:
        yield current


def read_saved_rows(path: str, tasks: list[Task], dims: list[str]) -> list[DialogueRow]:
    """Per-dialogue metrics rebuilt from a saved per-turn file."""
    rows = [saved_row(utterances, tasks, dims) for utterances in iter_saved_scores(path, tasks, dims)]
    if not rows:
        raise InputError("no per-turn records", source=path)
    return rows


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
