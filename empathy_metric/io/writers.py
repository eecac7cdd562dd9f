"""Output files by extension: .jsonl per-turn records, .csv flat per-turn rows, .json run summary.
(.junit.xml, .html and .md are written by reporting/; their kinds are named here, in one place.)

Per-turn files are written one whole dialogue at a time and flushed at dialogue boundaries, so a
killed run leaves whole dialogues behind (see resume.py, which also copes with a cut last line).
Every file is written beside its target and renamed over it only when the run succeeds
(atomic_files.py): a failed run leaves the previous output as it was.
fsync (which survives an OS crash, not just a kill) runs at most once a second and on close:
one fsync per dialogue cost ~3 ms each, half the time of a run of short dialogues here.
A failed write (full or read-only disk) is an OutputError naming the file; JSON never holds NaN or
Infinity (other tools refuse them), and CSV cells never start a spreadsheet formula.
"""
from __future__ import annotations

import csv
import io
import json
import os
import time
from dataclasses import dataclass

from ..errors import UsageError
from ..pipeline.aggregation import slug
from .atomic_files import PendingFile, fsync_folder, fsync_handle, open_exclusive, writing
from .atomic_files import write_atomically  # noqa: F401  (where callers have always found it)
from .turn_records import JsonlFormat, dumps_record, jsonl_lines, scored_by  # noqa: F401 (the record format's home)

TURN_FORMATS = (".jsonl", ".csv")
SUMMARY_FORMATS = (".json", ".html", ".md")
GATES_FORMAT = ".toml"          # `gates suggest -o gates.toml`
SCORE_KINDS = ("jsonl", "csv", "json", "junit", "html", "md")
SHARDS = "shards"           # -o DIR/: per-turn records written by the cluster (--engine ray)


def output_kind(path: str, allowed: tuple[str, ...] = SCORE_KINDS, command: str = "") -> str:
    """The kind of an -o path: SHARDS for a folder, else by its extension; a UsageError names the
    extensions `allowed`."""
    if path.endswith(("/", os.sep)) or os.path.isdir(path):
        if SHARDS not in allowed:
            raise UsageError(f"-o {path}: is a folder; give a file name "
                             "(a folder takes per-turn shards, written by score --engine ray)")
        return SHARDS
    name = path.lower()
    kind = None
    if name.endswith(".junit.xml") or name.endswith(".xml"):
        kind = "junit"
    for suffix in TURN_FORMATS + SUMMARY_FORMATS + (GATES_FORMAT,):
        if name.endswith(suffix):
            kind = suffix[1:]
    if kind not in allowed:
        names = [".junit.xml" if k == "junit" else f".{k}" for k in allowed]
        listed = f"{', '.join(names[:-1])} or {names[-1]}" if len(names) > 1 else names[0]
        raise UsageError(f"-o {path}: unknown output format{' for ' + command if command else ''} (use {listed})")
    return kind


FSYNC_INTERVAL_S = 1.0
# A cell starting with one of these is a formula to Excel, LibreOffice and Google Sheets (CSV
# injection); a leading apostrophe makes it text, as OWASP recommends.
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value):
    if isinstance(value, str) and value.startswith(FORMULA_PREFIXES):
        return "'" + value
    return value


_fsync = fsync_handle


def _sync(handle) -> None:
    handle.flush()
    _fsync(handle)


class _Syncer:
    """Flush after every dialogue; fsync when FSYNC_INTERVAL_S has passed since the last one."""

    def __init__(self, handle):
        self.handle, self.last = handle, time.monotonic()

    def dialogue_done(self) -> None:
        self.handle.flush()
        if time.monotonic() - self.last >= FSYNC_INTERVAL_S:
            _fsync(self.handle)
            self.last = time.monotonic()

    def close(self) -> None:
        if not self.handle.closed:
            try:
                _sync(self.handle)
            finally:
                self.handle.close()


@dataclass(frozen=True)
class ShardFolder:
    """`-o DIR/` with --engine ray: the per-turn records, written by the cluster (distributed/shards.py)
    as JSONL files holding `lines`' records (those of `-o turns.jsonl`), or Parquet when DIR ends in
    .parquet. Ray's write tasks run on any node: on a cluster of several machines, DIR must be on a
    file system they share, or a URI (s3://, gs://)."""
    path: str
    lines: JsonlFormat
    tasks: tuple                            # schemas.Task: the Parquet columns of labels and probs
    dims: tuple[str, ...]

    @classmethod
    def of(cls, path: str, tasks, dims, include_text: bool, signed_by: str = "") -> "ShardFolder":
        """`signed_by`: `scored_by()` text, signing the JSONL records as `-o turns.jsonl`'s are."""
        where = path if "://" in path else os.path.abspath(path)     # Ray workers have another working folder
        return cls(where, JsonlFormat(include_text, signed_by), tuple(tasks), tuple(dims))

    @property
    def parquet(self) -> bool:
        return self.path.rstrip("/").lower().endswith(".parquet")


@dataclass(frozen=True)
class CsvFormat:
    """One row per scored turn: label per task, probability per (task, label), perceived scores, and
    with `include_text` the scored turn's text last (columns are added, never moved)."""
    tasks: tuple[tuple[str, tuple[str, ...]], ...]       # (task name, its labels)
    dims: tuple[str, ...]
    include_text: bool = False

    @classmethod
    def of(cls, tasks, perceived_dims, include_text: bool = False) -> "CsvFormat":
        return cls(tuple((t.name, tuple(t.labels)) for t in tasks), tuple(perceived_dims), include_text)

    def columns(self) -> list[str]:
        columns = ["dialogue_id", "turn_index", "role", "truncated", "truncated_parts", "repeats"]
        for name, labels in self.tasks:
            columns.append(name)
            columns += [f"{name}.p.{slug(label)}" for label in labels]
        columns += [f"perceived.{d}" for d in self.dims]
        return columns + (["text"] if self.include_text else [])

    def render(self, dialogue_score) -> str:
        text = io.StringIO(newline="")
        writer = csv.writer(text)
        for u in dialogue_score.utterances:
            row = [u.dialogue_id, u.turn_index, u.role, int(u.truncated), "+".join(u.truncated_parts),
                   int(bool(u.repeats))]
            for name, labels in self.tasks:
                row.append(u.labels[name])
                row += [u.probs[name][label] for label in labels]
            row += [u.perceived[d] for d in self.dims]
            row += [u.text] if self.include_text else []
            writer.writerow([csv_cell(value) for value in row])
        return text.getvalue()


class TurnWriter:
    """A per-turn file in one format, written a whole dialogue at a time. A dialogue scored in a
    `--workers` process arrives with its text already rendered (`DialogueScore.rendered`).
    Written beside `path`: appended to `staged_at` (the `.jsonl` partial file that --resume keeps,
    which resume.begin_run created), else to a new temporary file; `close()` renames it over `path`,
    `abandon()` (a failed run) leaves `path` as it was: the partial file stays, a temporary goes."""

    def __init__(self, path: str, format: JsonlFormat | CsvFormat, staged_at: str | None = None):
        self.path, self.format, self.staged_at = path, format, staged_at
        self.pending = None if staged_at else PendingFile(path)
        self.handle = open_exclusive(staged_at, append=True) if staged_at else self.pending.handle
        self.syncer = _Syncer(self.handle)
        if isinstance(format, CsvFormat):
            header = io.StringIO(newline="")
            csv.writer(header).writerow(format.columns())
            self._write(header.getvalue())

    def _write(self, text: str) -> None:
        with writing(self.path):
            self.handle.write(text.encode("utf-8"))

    def write_dialogue(self, dialogue_score) -> None:
        text = dialogue_score.rendered.get(self.format)
        if text is None:
            text = self.format.render(dialogue_score)
        self._write(text)
        with writing(self.path):
            self.syncer.dialogue_done()

    def close(self) -> None:
        """The run succeeded: the file becomes `path`."""
        if self.pending is not None:
            self.pending.commit()
            return
        with writing(self.path):
            self.syncer.close()
            os.replace(self.staged_at, self.path)
        fsync_folder(os.path.dirname(self.path))

    def abandon(self) -> None:
        """The run failed: `path` stays as it was; what the partial file holds stays durable."""
        if self.pending is not None:
            self.pending.discard()
            return
        with writing(self.path):
            self.syncer.close()


def write_text(path: str, text: str) -> None:
    write_atomically(path, lambda handle: handle.write(text.encode("utf-8")))


def json_text(data: dict) -> str:
    """A JSON output: indented, UTF-8 as is, never NaN or Infinity (other tools refuse them)."""
    return json.dumps(data, indent=2, ensure_ascii=False, allow_nan=False) + "\n"


def write_json(path: str, data: dict) -> None:
    write_text(path, json_text(data))
