"""JSON and JSONL framing: the bytes of a file (or stdin) -> located JSON records, one per line of
JSONL or one per element of a whole-file JSON array, each parsed value or the InputError that names
FILE:LINE and why; and the numbering of JSONL blocks that `--workers` hands to its workers. No record
longer than the record size limit (--max-record-bytes) is read into memory (streams.py)."""
from __future__ import annotations

import itertools
import json
import math
from typing import Iterator

from ...errors import InputError
from .streams import DEFAULT_MAX_RECORD_BYTES, bounded_lines, open_input, read_bounded


open_binary = open_input         # streams.py: gzip read as the plain file, other binary input named


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
    for name, line, _, record in located_records(path, max_record_bytes=max_record_bytes):
        yield name, line, record


def located_records(path: str, block_bytes: int | None = None, max_record_bytes: int = DEFAULT_MAX_RECORD_BYTES
                    ) -> Iterator[tuple[str, int, int | None, object | InputError]]:
    """iter_records, with each JSONL line's block number (BlockCutter; None without `block_bytes` and
    in a JSON array). No line longer than `max_record_bytes` is read into memory."""
    stream, name = open_binary(path)
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
    (scoring.Scorer), so `--workers` can hand whole blocks of bytes to its workers to parse
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
