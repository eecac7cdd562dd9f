"""Readers: stream dialogues one at a time from JSONL, JSON arrays, EMH/EPITOME CSV, or stdin.

- streams.py: input bytes (gzip read as the plain file, other binary input named, lines bounded by
  the record size limit); framing.py: bytes -> located JSON records (JSONL lines, a JSON array), and
  JSONL blocks
- records.py: a JSON record -> a Dialogue (options.py: which fields; record_ratings.py: ratings in it)
- emh_csv.py: EMH/EPITOME CSV rows -> two-turn dialogues
- dialogues.py: files -> Dialogues, with bad records raised or skipped and counted (stats.py)
- blocks.py: the blocks of a JSONL file that `--workers` read themselves; counting.py: records ahead

This file re-exports; it holds no logic.
"""
from __future__ import annotations

from .dialogues import dialogues_of, read_dialogues, read_path_list
from .framing import BOM, BlockCutter, is_blank_line, iter_objects, iter_records, parse_line
from .options import FORMATS, ReaderOptions, reads_as_csv
from .stats import ReadStats

__all__ = ["FORMATS", "ReaderOptions", "ReadStats", "read_dialogues", "read_path_list", "dialogues_of",
           "iter_records", "iter_objects", "BOM", "BlockCutter", "is_blank_line", "parse_line", "reads_as_csv"]
