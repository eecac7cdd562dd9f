"""Dialogues from input files: each record becomes a Dialogue, raises an InputError naming FILE:LINE
and the field, or (on_error 'skip') is counted in `ReadStats.records_skipped` and left out."""
from __future__ import annotations

from pathlib import Path
from typing import Iterable, Iterator

from ...dialogue import Dialogue
from ...errors import InputError
from .emh_csv import read_emh_csv
from .framing import located_records
from .options import FORMATS, ReaderOptions, reads_as_csv
from .records import record_to_dialogue
from .stats import ReadStats


def read_dialogues(path: str, options: ReaderOptions, stats: ReadStats | None = None,
                   input_index: int = 0, block_bytes: int | None = None) -> Iterator[Dialogue]:
    """`block_bytes`: number the blocks of a JSONL input (BlockCutter) in each Dialogue's `block`."""
    stats = stats if stats is not None else ReadStats()
    if options.format not in FORMATS:
        raise InputError(f"unknown format '{options.format}' (choose from {', '.join(FORMATS)})")
    if reads_as_csv(path, options):
        yield from read_emh_csv(path, options, stats)
        return
    yield from dialogues_of(located_records(path, block_bytes, options.max_record_bytes), options, stats,
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


def read_path_list(paths: list[str], options: ReaderOptions, stats: ReadStats,
                   block_bytes: int | None = None) -> Iterator[Dialogue]:
    for index, path in enumerate(paths):
        if path != "-" and Path(path).is_dir():
            raise InputError("is a folder, expected a file (JSONL, JSON or CSV)", source=path)
        yield from read_dialogues(path, options, stats, index, block_bytes)
