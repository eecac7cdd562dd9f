"""What a read counts: records read, records skipped by reason, and the first messages of those."""
from __future__ import annotations

from dataclasses import dataclass, field

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
