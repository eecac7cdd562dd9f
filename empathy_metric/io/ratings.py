"""Human ratings for `empathy-score analyze`: a side file (CSV or JSONL), or values inside the log records.

A side file has one row per rating, keyed by dialogue id and, for a turn-level rating, the 0-based
index of the rated turn in the dialogue's input turn list (the `turn_index` of the per-turn output);
an absent or empty turn index makes it a dialogue-level rating. The other columns are ratings: those
named by `RatingsOptions.names`, or else every column whose first non-empty value is a number
(columns whose first value is not, such as free text, are left out and listed). Numbers may be
written as text ("4"); an empty cell is no rating. A value that is not a number in a rating column,
a turn index that is not a whole number >= 0, a row without a dialogue id or an unreadable line is an
InputError naming FILE:LINE and the field.
"""
from __future__ import annotations

import csv
import io
import math
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import InputError
from .readers.options import ID_KEYS      # the log readers' keys, in their order: one list
from .readers.record_ratings import RecordRating, rating_value  # noqa: F401 (RecordRating: analyze's API)

TURN_KEY = "turn_index"


@dataclass(frozen=True)
class Rating:
    dialogue_id: str
    turn_index: int | None         # None: the rating is of the whole dialogue
    name: str
    value: float
    source: str                    # FILE:LINE of the row (or of the log record), for messages


@dataclass(frozen=True)
class RatingsOptions:
    id_key: str | None = None      # default: the first of ID_KEYS in the file
    turn_key: str | None = None    # default: TURN_KEY (absent from the file: dialogue-level ratings)
    names: tuple[str, ...] = ()    # the rating columns; default: every numeric column but the keys


@dataclass
class RatingsFile:
    path: str
    ratings: list[Rating]
    rows: int = 0
    rows_without_rating: int = 0                              # rows whose rating cells are all empty
    columns: list[str] = field(default_factory=list)          # the ratings found
    ignored_columns: list[str] = field(default_factory=list)  # not numeric: not ratings

    def to_dict(self) -> dict:
        return {"path": self.path, "rows": self.rows, "ratings": len(self.ratings),
                "rows_without_rating": self.rows_without_rating, "columns": self.columns,
                "ignored_columns": self.ignored_columns}


def _is_number(value) -> bool:
    """Whether a column whose first value this is holds ratings (then "inf" in it is an error)."""
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        return False
    try:
        float(value)
    except ValueError:
        return False
    return True


def _turn_index(value, key: str, source: str) -> int | None:
    """A turn index: a whole number >= 0, as a number or as text ("3", "3.0"); None when empty."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    try:
        number = math.nan if isinstance(value, bool) else float(value)
    except (TypeError, ValueError):
        number = math.nan
    if not (math.isfinite(number) and number.is_integer() and number >= 0):
        raise InputError(f"turn index '{key}' must be a whole number >= 0, got {str(value)[:40]!r}",
                         source=source, field=key)
    return int(number)


class _Columns:
    """Which keys of the rows are ratings, decided as rows arrive (see the module docstring)."""

    def __init__(self, options: RatingsOptions, keys: tuple[str, ...]):
        self.named = options.names
        self.keys = set(keys)
        self.ratings: list[str] = list(options.names)
        self.ignored: list[str] = []

    def of(self, row: dict) -> list[str]:
        if self.named:
            return list(self.named)
        for key, value in row.items():
            if key in self.keys or key in self.ratings or key in self.ignored:
                continue
            if _is_number(value):
                self.ratings.append(key)
            elif value is not None and str(value).strip():
                self.ignored.append(key)
        return self.ratings


def _rows_of_csv(path: str):
    """(line, {column: text}) for every non-blank row; the header is line 1."""
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise InputError(f"cannot open: {exc.strerror}", source=path) from None
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[:exc.start].count(b"\n") + 1
        raise InputError("not valid UTF-8", source=path, line=line) from None
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader, None)
        if not header:
            raise InputError("no header row", source=path, line=1)
        yield 1, header
        line = reader.line_num
        for cells in reader:
            if any(cell.strip() for cell in cells):
                if len(cells) > len(header):
                    raise InputError(f"row has {len(cells)} fields, the header has {len(header)}",
                                     source=path, line=line + 1)
                yield line + 1, dict(zip(header, cells))
            line = reader.line_num
    except csv.Error as exc:
        raise InputError(f"not valid CSV ({exc})", source=path, line=reader.line_num) from None


def _rows_of_jsonl(path: str):
    from .readers import iter_objects
    for _, line, record in iter_objects(path, "one JSON object per line"):
        yield line, record


def _id_key(keys, options: RatingsOptions, source: str) -> str:
    if options.id_key:
        if options.id_key not in keys:
            raise InputError(f"no '{options.id_key}' field (given by --ratings-id-key)", source=source,
                             field=options.id_key)
        return options.id_key
    found = next((k for k in ID_KEYS if k in keys), None)
    if found is None:
        raise InputError("no dialogue id field (looked for: " + ", ".join(ID_KEYS)
                         + "; name it with --ratings-id-key)", source=source)
    return found


def read_ratings(path: str, options: RatingsOptions) -> RatingsFile:
    """Every rating of a CSV (by extension) or JSONL/JSON file, in file order."""
    if not Path(path).is_file():
        raise InputError("no such file" if not Path(path).exists() else "is not a file", source=path)
    turn_key = options.turn_key or TURN_KEY
    found = RatingsFile(path=path, ratings=[])
    if path.lower().endswith(".csv"):
        rows = _rows_of_csv(path)
        _, header = next(rows)
        id_key = _id_key(header, options, f"{path}:1")
        missing = [n for n in options.names if n not in header]
        if missing:
            raise InputError(f"no column {', '.join(repr(n) for n in missing)} (given by --rating)",
                             source=path, line=1, field=missing[0])
        if options.turn_key and turn_key not in header:
            raise InputError(f"no '{turn_key}' column (given by --ratings-turn-key)", source=path, line=1,
                             field=turn_key)
    else:
        rows, id_key = _rows_of_jsonl(path), options.id_key
    columns = None
    for line, row in rows:
        source = f"{path}:{line}"
        found.rows += 1
        key = id_key or _id_key(row, options, source)
        columns = columns or _Columns(options, (key, turn_key))
        dialogue_id = row.get(key)
        if dialogue_id is None or isinstance(dialogue_id, (bool, dict, list)) or str(dialogue_id) == "":
            raise InputError(f"no dialogue id in '{key}'", source=source, field=key)
        turn = _turn_index(row.get(turn_key), turn_key, source)
        rated = 0
        for name in columns.of(row):
            try:
                value = rating_value(row.get(name), name)
            except ValueError as exc:
                raise InputError(str(exc), source=source, field=name) from None
            if value is not None:
                found.ratings.append(Rating(str(dialogue_id), turn, name, value, source))
                rated += 1
        if not rated:
            found.rows_without_rating += 1
    if columns is not None:
        found.columns, found.ignored_columns = columns.ratings, columns.ignored
    unseen = [n for n in options.names if n not in {r.name for r in found.ratings}]
    if unseen:
        raise InputError(f"no value of rating {', '.join(repr(n) for n in unseen)} (given by --rating)",
                         source=path)
    return found
