"""Readers: stream dialogues one at a time from JSONL, JSON arrays, EMH/EPITOME CSV, or stdin.

Every record either becomes a Dialogue, raises an InputError naming FILE:LINE and the field, or,
with `on_error="skip"`, is counted in `ReadStats.records_skipped` and left out.
"""
from __future__ import annotations

import csv
import itertools
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO, Iterable, Iterator

from ...dialogue import Dialogue, Turn
from ...errors import InputError
from .options import FORMATS, ReaderOptions, reads_as_csv
from .records import record_to_dialogue
from .streams import DEFAULT_MAX_RECORD_BYTES, bounded_lines, open_input, read_bounded

__all__ = ["FORMATS", "ReaderOptions", "ReadStats", "read_dialogues", "iter_records", "iter_objects"]

EMH_COLUMNS = ("seeker_post", "response_post")


ERRORS_KEPT = 20       # messages of skipped records kept for the summary


@dataclass
class ReadStats:
    records_read: int = 0
    records_skipped: dict[str, int] = field(default_factory=dict)   # reason -> count
    errors: list[str] = field(default_factory=list)                 # first messages of skipped records

    def skip(self, reason: str, message: str) -> None:
        self.records_skipped[reason] = self.records_skipped.get(reason, 0) + 1
        if len(self.errors) < ERRORS_KEPT:
            self.errors.append(message)

    def add(self, other: "ReadStats") -> None:
        """Another part of the same input's stats, read after this one."""
        self.records_read += other.records_read
        for reason, n in other.records_skipped.items():
            self.records_skipped[reason] = self.records_skipped.get(reason, 0) + n
        self.errors += other.errors[:ERRORS_KEPT - len(self.errors)]


_open_binary = open_input


BOM = b"\xef\xbb\xbf"


def _decode(raw: bytes, name: str, line: int) -> str:
    try:
        return raw.decode("utf-8-sig" if line == 1 else "utf-8")
    except UnicodeDecodeError as exc:
        # 1-based, like JSON columns
        raise InputError(f"not valid UTF-8 (byte {exc.start + 1})", source=name, line=line) from None


def _refuse_constant(name: str):
    raise ValueError(f"{name} is not a JSON value")


def _finite_float(text: str) -> float:
    value = float(text)
    if math.isinf(value):
        raise ValueError(f"number {text[:20]} is out of range")
    return value


def _parse_json(text: str, name: str, line: int | None):
    """json.loads, with every way it can fail turned into an InputError. NaN, Infinity and numbers
    too big for a float are refused: echoed into the output (gold labels) they would make it
    invalid JSON."""
    try:
        return json.loads(text, parse_constant=_refuse_constant, parse_float=_finite_float)
    except json.JSONDecodeError as exc:
        at = f"column {exc.colno}" if line is not None else f"line {exc.lineno} column {exc.colno}"
        # Some messages end in "at" already: "Unterminated string starting at".
        raise InputError(f"not valid JSON ({exc.msg.removesuffix(' at')} at {at})", source=name,
                         line=line) from None
    except RecursionError:
        raise InputError("not valid JSON (nested too deeply)", source=name, line=line) from None
    except ValueError as exc:        # e.g. an integer of more than 4300 digits, NaN
        raise InputError(f"not valid JSON ({exc})", source=name, line=line) from None


def iter_records(path: str, max_record_bytes: int = DEFAULT_MAX_RECORD_BYTES
                 ) -> Iterator[tuple[str, int, object | InputError]]:
    """Yield (source name, line, parsed JSON or the InputError it raised) for a JSONL/JSON file.

    A file whose first non-blank line starts with '[' is one whole JSON array (e.g. the original
    ESConv.json). Decided on the first line, not by peeking bytes: stdin pipes and test streams
    may have nothing or only whitespace to peek at yet."""
    for name, line, _, record in _located_records(path, max_record_bytes=max_record_bytes):
        yield name, line, record


def _located_records(path: str, block_bytes: int | None = None, max_record_bytes: int = DEFAULT_MAX_RECORD_BYTES
                     ) -> Iterator[tuple[str, int, int | None, object | InputError]]:
    """iter_records, with each JSONL line's block number (BlockCutter; None without `block_bytes` and
    in a JSON array). No line longer than `max_record_bytes` is read into memory."""
    stream, name = _open_binary(path)
    try:
        head: list[bytes] = []
        lines = bounded_lines(stream, max_record_bytes, name)
        for raw in lines:
            head.append(raw)
            if raw.strip().removeprefix(BOM).strip():
                break
        if head and head[-1].strip().removeprefix(BOM).lstrip().startswith(b"["):
            rest = read_bounded(stream, max(0, max_record_bytes - sum(map(len, head))), name, len(head))
            for _, number, record in _json_array(b"".join(head) + rest, name):
                yield name, number, None, record
            return
        blocks = BlockCutter(block_bytes) if block_bytes else None
        for line, raw in enumerate(itertools.chain(head, lines), start=1):
            block = blocks.number_of(raw) if blocks else None
            if not is_blank_line(raw, line):
                yield name, line, block, parse_line(raw, name, line)
    finally:
        if path != "-":
            stream.close()


def is_blank_line(raw: bytes, line: int) -> bool:
    return not (raw.removeprefix(BOM) if line == 1 else raw).strip()


def parse_line(raw: bytes, name: str, line: int) -> object | InputError:
    """One JSONL line -> its JSON value, or the InputError that names why it is not one."""
    try:
        # Without its line ending, so that an error's column is on this line.
        return _parse_json(_decode(raw, name, line).rstrip("\r\n"), name, line)
    except InputError as exc:
        return exc


class BlockCutter:
    """Numbers the blocks of a JSONL file, line by line: a block starts at the first line that starts
    `size` bytes or more after the start of the block before. Chunks of dialogues never span two blocks
    (api.Scorer), so `--workers` can hand whole blocks of bytes to its workers to parse
    (readers/blocks.py cuts the same blocks from the bytes) and score the chunks one process would."""

    def __init__(self, size: int):
        self.size, self.number, self.start, self.offset = size, 0, 0, 0

    def number_of(self, raw: bytes) -> int:
        """The block of the next line, `raw`."""
        if self.offset >= self.start + self.size:
            self.number, self.start = self.number + 1, self.offset
        self.offset += len(raw)
        return self.number


def _json_array(data: bytes, name: str):
    """A whole-file JSON array. 'Line' is the 1-based record number."""
    records = _parse_json(_decode(data, name, 1), name, None)
    if not isinstance(records, list):
        raise InputError("expected one JSON array or one JSON object per line", source=name)
    for number, record in enumerate(records, start=1):
        yield name, number, record


def iter_objects(path: str, expected: str) -> Iterator[tuple[str, int, dict]]:
    """(source name, line, record) of a JSONL/JSON file whose every record must be a JSON object; an
    unreadable record or another JSON value is an InputError ("FILE:LINE: expected <expected>")."""
    for name, line, record in iter_records(path):
        if isinstance(record, InputError):
            raise record
        if not isinstance(record, dict):
            raise InputError(f"expected {expected}", source=name, line=line)
        yield name, line, record


def read_dialogues(path: str, options: ReaderOptions, stats: ReadStats | None = None,
                   input_index: int = 0, block_bytes: int | None = None) -> Iterator[Dialogue]:
    """`block_bytes`: number the blocks of a JSONL input (BlockCutter) in each Dialogue's `block`."""
    stats = stats if stats is not None else ReadStats()
    if options.format not in FORMATS:
        raise InputError(f"unknown format '{options.format}' (choose from {', '.join(FORMATS)})")
    if reads_as_csv(path, options):
        yield from _read_emh_csv(path, options, stats)
        return
    yield from dialogues_of(_located_records(path, block_bytes, options.max_record_bytes), options, stats,
                            input_index)


def dialogues_of(records: Iterable[tuple[str, int, int | None, object | InputError]], options: ReaderOptions,
                 stats: ReadStats, input_index: int = 0) -> Iterator[Dialogue]:
    """Located JSON records -> Dialogues (their block: (input_index, block number)), or an InputError
    naming FILE:LINE, or (on_error 'skip') counted and left out."""
    for name, line, block, record in records:
        stats.records_read += 1
        try:
            if isinstance(record, InputError):
                raise record
            dialogue = record_to_dialogue(record, options, f"{name}:{line}")
        except InputError as exc:
            if exc.source is None:
                exc = InputError(exc.reason, source=name, line=line, field=exc.field)
            if options.on_error != "skip":
                raise exc from None
            stats.skip("malformed_record", str(exc))
            continue
        if block is not None:
            dialogue.block = (input_index, block)
        yield dialogue


class _DecodedLines:
    """Lines of a binary stream as text for the csv module, which may pull several lines for one
    record (quoted newlines). Remembers where the current record started and which lines were not
    UTF-8 (decoded with replacement meanwhile), so that a bad line spoils only its own record."""

    def __init__(self, stream: BinaryIO, name: str, max_record_bytes: int):
        self.lines = enumerate(bounded_lines(stream, max_record_bytes, name), start=1)
        self.line, self.first, self.bad = 0, None, {}

    def __iter__(self):
        return self

    def __next__(self) -> str:
        self.line, raw = next(self.lines)
        if self.first is None and raw.strip():
            self.first = self.line
        try:
            return raw.decode("utf-8-sig" if self.line == 1 else "utf-8")
        except UnicodeDecodeError as exc:
            self.bad[self.line] = exc.start + 1          # 1-based, like JSON columns
            return raw.decode("utf-8", "replace")

    def next_record(self) -> None:
        self.first = None
        self.bad.clear()

    def undecodable(self, name: str) -> InputError | None:
        """The error for the first non-UTF-8 line of the record just read, if any."""
        bad = sorted(self.bad.items())
        self.bad.clear()
        if not bad:
            return None
        line, byte = bad[0]
        return InputError(f"not valid UTF-8 (byte {byte})", source=name, line=line)


def _read_emh_csv(path: str, options: ReaderOptions, stats: ReadStats) -> Iterator[Dialogue]:
    """EMH/EPITOME pairs: seeker_post then response_post, a two-turn dialogue each row.
    The dialogue's FILE:LINE is the line where its row starts."""
    stream, name = _open_binary(path)
    lines = _DecodedLines(stream, name, options.max_record_bytes)
    try:
        reader = csv.DictReader(lines)
        try:
            fieldnames = reader.fieldnames or []
        except csv.Error as exc:
            raise InputError(f"not valid CSV ({exc})", source=name, line=1) from None
        header_error = lines.undecodable(name)
        if header_error:
            raise header_error
        missing = [c for c in EMH_COLUMNS if c not in fieldnames]
        if missing:
            raise InputError(f"missing column(s) {', '.join(missing)} "
                             f"(EMH/EPITOME CSV needs seeker_post, response_post)", source=name, line=1)
        while True:
            lines.next_record()
            try:
                row = next(reader)
                error = lines.undecodable(name)
            except StopIteration:
                break
            except csv.Error as exc:
                error = InputError(f"not valid CSV ({exc})", source=name, line=lines.line)
            stats.records_read += 1
            line = lines.first or lines.line
            if error is None and any(row.get(c) is None for c in EMH_COLUMNS):
                error = InputError("row has too few columns", source=name, line=line)
            if error is not None:
                if options.on_error != "skip":
                    raise error
                stats.skip("malformed_record", str(error))
                continue
            yield _emh_dialogue(row, options, f"{name}:{line}")
    finally:
        if path != "-":
            stream.close()


def _emh_dialogue(row: dict, options: ReaderOptions, source: str) -> Dialogue:
    if options.id_key and row.get(options.id_key):
        dialogue_id = row[options.id_key]
    elif row.get("sp_id") and row.get("rp_id"):
        dialogue_id = f"{row['sp_id']}_{row['rp_id']}"
    else:
        dialogue_id = source
    gold = {k: row[k] for k in ("level", "rationales") if row.get(k) not in (None, "")}
    turns, skipped = [], {}
    for index, (role, key) in enumerate((("seeker", "seeker_post"), ("supporter", "response_post"))):
        text = (row.get(key) or "").strip()
        if text:
            turns.append(Turn(role=role, text=text, index=index, gold=gold if role == "supporter" else {}))
        else:
            skipped["empty_text"] = skipped.get("empty_text", 0) + 1
    return Dialogue(dialogue_id=dialogue_id, turns=turns, source=source, skipped=skipped, turns_read=2)


def read_path_list(paths: list[str], options: ReaderOptions, stats: ReadStats,
                   block_bytes: int | None = None) -> Iterator[Dialogue]:
    for index, path in enumerate(paths):
        if path != "-" and Path(path).is_dir():
            raise InputError("is a folder, expected a file (JSONL, JSON or CSV)", source=path)
        yield from read_dialogues(path, options, stats, index, block_bytes)
