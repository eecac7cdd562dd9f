"""How many records the inputs hold, counted before scoring so that progress has a total and an ETA.

Cheap next to scoring: JSONL is a count of non-blank lines (read in binary, nothing parsed);
a whole-file JSON array is parsed once; an EMH/EPITOME CSV is read by the csv module (quoted
fields may span lines). stdin cannot be read twice: its total is unknown (None).
"""
from __future__ import annotations

import csv
import json
from pathlib import Path

from ...errors import InputError
from .options import ReaderOptions, reads_as_csv
from .streams import bounded_lines, open_input, read_bounded


def count_records(paths: list[str], options: ReaderOptions) -> int | None:
    """The number of records in `paths`, or None when it cannot be known cheaply (stdin, a file that
    cannot be read or parsed: the reader reports that when it gets there)."""
    total = 0
    for path in paths:
        n = _count(path, options) if path != "-" and Path(path).is_file() else None
        if n is None:
            return None
        total += n
    return total


def _count(path: str, options: ReaderOptions) -> int | None:
    """Lines are read as the readers read them (gzip, the record size limit): an input they refuse
    has no total."""
    limit = options.max_record_bytes
    try:
        handle, name = open_input(path)
        with handle:
            lines = bounded_lines(handle, limit, name)
            if reads_as_csv(path, options):
                text = (raw.decode("utf-8-sig", "replace") for raw in lines)
                return max(0, sum(1 for row in csv.reader(text) if row) - 1)     # less the header
            first = b""
            for raw in lines:
                if raw.strip():
                    first = raw
                    break
            if first.lstrip(b"\xef\xbb\xbf \t").startswith(b"["):
                records = json.loads((first + read_bounded(handle, limit, name)).decode("utf-8-sig"))
                return len(records) if isinstance(records, list) else None
            return (1 if first else 0) + sum(1 for raw in lines if raw.strip())
    except (OSError, ValueError, csv.Error, RecursionError, InputError):
        return None
