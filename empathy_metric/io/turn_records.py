"""The per-turn record format: one JSON line per scored turn, as `-o turns.jsonl`, Ray's shards and
`score_dataset` write it, and as `compare`, `--resume` and `distributed.summarize` read it back.

Written: `UtteranceScore.to_record` (dialogue_id, turn_index, role, labels, probs, perceived,
truncated; gold when known; text with --include-text), one dialogue's turns together, UTF-8 as is,
never NaN. Read back: a record is one when it has RECORD_KEYS; its values are checked against the
model's tasks and perceived dimensions (probabilities and perceived scores in 0..1, as `score` writes
them), and a dialogue's turns must be consecutive.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Iterable, Iterator

import numpy as np

from ..errors import InputError
from ..pipeline.decoding import UtteranceScore
from ..schemas import DEFAULT_TASKS, Task

# What makes a JSON object a per-turn record (every record `score` writes has them, and more).
RECORD_KEYS = ("dialogue_id", "turn_index", "labels", "probs")


def dumps_record(record: dict) -> str:
    """One JSON line: UTF-8 as is, and an error (never a bare `NaN`) on a non-finite number."""
    return json.dumps(record, ensure_ascii=False, allow_nan=False)


@dataclass(frozen=True)
class JsonlFormat:
    """Per-turn records as JSON lines (hashable and small: `--workers` render in the workers).
    `scored_by` (JSON text of `scored_by()`) signs every record with the model and the settings that
    decide its scores, so that `compare` can refuse to pair records of different models."""
    include_text: bool = False
    scored_by: str = ""

    def render(self, dialogue_score) -> str:
        stamp = f', "{SCORED_BY}": {self.scored_by}}}' if self.scored_by else "}"
        return "".join(dumps_record(u.to_record(self.include_text))[:-1] + stamp + "\n"
                       for u in dialogue_score.utterances)


SCORED_BY = "scored_by"


def scored_by(signature: dict, settings: dict) -> str:
    """What decides a per-turn record's scores, as JSON text: the model (name and the sha256 of its
    manifest, which pins every file: a revision replaced in place under one name differs) and the
    scorer's settings (window, agent roles). Batch sizes, threads and workers do not change scores
    (tests/test_determinism.py), so they are not part of it."""
    return dumps_record({"model": signature["model"], "manifest_sha256": signature["manifest_sha256"],
                         "settings": settings})


def jsonl_lines(text: str) -> list[str]:
    """The records of rendered JSONL text. Not `splitlines()`: JSON keeps U+2028, U+0085 and the like
    raw (ensure_ascii=False), and splitlines() would cut a record there."""
    return text.split("\n")[:-1]


def is_turn_record(record) -> bool:
    return isinstance(record, dict) and all(k in record for k in RECORD_KEYS)


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
    return is_turn_record(record)


def _records(path: str) -> Iterator[tuple[str, int, dict]]:
    from .readers import iter_objects
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


def read_utterance(record: dict, tasks: list[Task], dims: list[str], name: str, line: int | None,
                   text: str | None = None) -> UtteranceScore:
    """A per-turn record -> its UtteranceScore, each value checked (InputError naming FILE:LINE and the
    field). `text`: the scored turn's text when known elsewhere (else the record's, if any)."""
    def bad(message: str, field: str) -> InputError:
        return InputError(message, source=name, line=line, field=field)
    for key in RECORD_KEYS:
        if key not in record:
            raise bad(f"no '{key}' field (a per-turn record of empathy-score score has "
                      + ", ".join(RECORD_KEYS) + ")", key)
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
    if text is None:
        text = record.get("text", "")         # present when scored with --include-text
    gold = record.get("gold")
    return UtteranceScore(dialogue_id=record["dialogue_id"], turn_index=record["turn_index"],
                          role=str(record.get("role", "")), labels=labels, probs=record["probs"],
                          perceived={d: float(perceived[d]) for d in dims},
                          truncated=bool(record.get("truncated")), gold=gold if isinstance(gold, dict) else {},
                          text=text if isinstance(text, str) else "", truncated_parts=_parts(record),
                          repeats=record["repeats"] if isinstance(record.get("repeats"), bool) else None)


def _parts(record: dict) -> list[str]:
    """A record's `truncated_parts` (absent in files written before it existed: [])."""
    parts = record.get("truncated_parts")
    return [p for p in parts if isinstance(p, str)] if isinstance(parts, list) else []


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
        utterance = read_utterance(record, tasks, dims, name, line)
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


def scored_by_of(path: str) -> dict | None:
    """The `scored_by` signature (model, manifest sha256, settings) of a saved per-turn file's first
    record; None for a file written before records were signed."""
    for _name, _line, record in _records(path):
        stamp = record.get("scored_by")
        return stamp if isinstance(stamp, dict) else None
    return None
