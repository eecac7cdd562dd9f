"""JSONL inputs cut into blocks of bytes that `--workers` read and parse themselves.

The parent then only cuts the files at line ends and hands over bytes: reading and parsing records,
their windows, encoding, scoring and rendering all run in the workers, and what stays in the parent
is merging results in input order (the design for feeding a fast GPU from one parent, docs/scale.md;
the scoring side is empathy_metric/scoring/block_scoring.py).
The blocks are those io.readers.BlockCutter numbers while one process reads the same file, and chunks
of dialogues never span two blocks, so the workers score exactly the chunks one process would.
"""
from __future__ import annotations

import io
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from ...dialogue import Dialogue
from ...errors import InputError
from .dialogues import dialogues_of
from .framing import BOM, is_blank_line, parse_line
from .options import FORMATS, ReaderOptions, reads_as_csv
from .stats import ReadStats
from .streams import DEFAULT_MAX_RECORD_BYTES, bounded_lines, is_gzip, too_large


@dataclass
class RawBlock:
    name: str              # the input as named on the command line (FILE in FILE:LINE)
    input_index: int       # its place among the inputs
    number: int            # the block's number in its file
    first_line: int        # 1-based line number of its first line
    data: bytes            # whole lines

    @property
    def last_line(self) -> int:
        return self.first_line + max(self.data.count(b"\n") - self.data.endswith(b"\n"), 0)


def blocks_of(paths: list[str], size: int, max_record_bytes: int = DEFAULT_MAX_RECORD_BYTES) -> Iterator[RawBlock]:
    """Each file's blocks in order: `size` bytes, then the rest of the line they end in (so the next
    block starts at the first line starting `size` bytes or more after this one's start). A line
    longer than `max_record_bytes` is an InputError before it is read whole."""
    for index, path in enumerate(paths):
        with open(path, "rb") as stream:
            number, line = 0, 1
            while data := stream.read(size):
                if not data.endswith(b"\n"):
                    data += stream.readline(max_record_bytes + 2)
                _check_lines(data, path, line, max_record_bytes)
                yield RawBlock(path, index, number, line, data)
                number, line = number + 1, line + data.count(b"\n")


def _check_lines(data: bytes, name: str, first_line: int, limit: int) -> None:
    """Every line of a block within the record size limit (the last may be cut at the limit)."""
    start, line = 0, first_line
    while start < len(data):
        end = data.find(b"\n", start)
        end = len(data) if end < 0 else end + 1
        if len(data[start:end].rstrip(b"\r\n")) > limit or (end == len(data) and not data.endswith(b"\n")
                                                              and end - start > limit):
            raise too_large(name, line, limit)
        start, line = end, line + 1


def parsed_in_workers(paths: list[str], options: ReaderOptions, workers: int, block_bytes: int) -> bool:
    """Whether the workers can read these inputs themselves: regular JSONL files (not stdin, CSV or
    one JSON array) with more blocks than one per worker. Anything else (and every error about the
    inputs themselves) goes the usual way: the parent reads."""
    if workers < 2 or options.format not in FORMATS:
        return False
    try:
        if any(path == "-" or not Path(path).is_file() or reads_as_csv(path, options) or is_gzip(path)
               or _json_array(path, options.max_record_bytes) for path in paths):
            return False
        return sum(os.path.getsize(path) for path in paths) > workers * block_bytes
    except (OSError, InputError):       # the parent's reader reports it, with its FILE:LINE
        return False


def _json_array(path: str, max_record_bytes: int) -> bool:
    with open(path, "rb") as stream:
        for raw in bounded_lines(stream, max_record_bytes, path):
            content = raw.strip().removeprefix(BOM).strip()
            if content:
                return content.startswith(b"[")
    return False


def block_dialogues(block: RawBlock, options: ReaderOptions, stats: ReadStats) -> Iterator[Dialogue]:
    """The block's dialogues, read as io.readers.read_dialogues reads them from the whole file."""
    def records():
        for offset, raw in enumerate(io.BytesIO(block.data)):
            line = block.first_line + offset
            if not is_blank_line(raw, line):
                yield block.name, line, block.number, parse_line(raw, block.name, line)
    return dialogues_of(records(), options, stats, block.input_index)
