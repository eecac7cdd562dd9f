"""Ratings carried by the log records themselves (`analyze --record-rating NAME=PATH`): read with
the records (records.py keeps them in Dialogue.meta["ratings"]); io/ratings.py reads side files."""
from __future__ import annotations

import math
from dataclasses import dataclass

from ...errors import InputError, UsageError


def rating_value(value, name: str) -> float | None:
    """A rating as a float; None for no rating (null, missing, empty text). ValueError otherwise."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise ValueError(f"rating '{name}' must be a number, got {type(value).__name__}")
    try:
        number = float(value)
    except ValueError:
        raise ValueError(f"rating '{name}' is not a number: {str(value)[:40]!r}") from None
    if not math.isfinite(number):
        raise ValueError(f"rating '{name}' must be a finite number, got {str(value)[:40]!r}")
    return number



@dataclass(frozen=True)
class RecordRating:
    """A dialogue-level rating carried by every log record at a dotted path."""
    name: str
    path: str

    @classmethod
    def parse(cls, text: str) -> "RecordRating":
        """`NAME=PATH` or `PATH` (then the name is the path), e.g. `empathy=survey_score.seeker.empathy`."""
        name, sep, path = text.partition("=")
        name, path = (name.strip(), path.strip()) if sep else (text.strip(), text.strip())
        if not name or not path or any(not part for part in path.split(".")):
            raise UsageError(f"--record-rating {text}: expected [NAME=]PATH, e.g. "
                             "--record-rating empathy=survey_score.seeker.empathy")
        return cls(name, path)

    def value_in(self, record: dict) -> float | None:
        """The rating in `record`, or None when the path is absent or empty. ValueError when the value
        found is not a number."""
        value = record
        for part in self.path.split("."):
            if not isinstance(value, dict) or part not in value:
                return None
            value = value[part]
        return rating_value(value, self.name)


def ratings_of_record(record: dict, wanted: tuple[RecordRating, ...]) -> dict[str, float | None]:
    """Each wanted rating of one log record (None where it has none); an InputError naming the
    path when a value is not a number (the reader adds FILE:LINE)."""
    found = {}
    for rating in wanted:
        try:
            found[rating.name] = rating.value_in(record)
        except ValueError as exc:
            raise InputError(str(exc), field=rating.path) from None
    return found
