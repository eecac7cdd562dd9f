"""Every turn read is accounted for: scored, context-only, or skipped with a reason."""
from __future__ import annotations

from dataclasses import dataclass, field

from ..errors import AccountingError


@dataclass
class Counts:
    records_read: int = 0
    records_skipped: dict[str, int] = field(default_factory=dict)
    dialogues_scored: int = 0
    turns_read: int = 0
    turns_scored: int = 0
    turns_context: int = 0
    turns_skipped: dict[str, int] = field(default_factory=dict)
    windows_truncated: int = 0
    non_text_parts_skipped: int = 0
    # --resume: dialogues (and their scored turns) taken from the earlier run's output instead of
    # being scored again; they are also counted in dialogues_scored / turns_scored.
    dialogues_resumed: int = 0
    turns_resumed: int = 0

    def add_skipped(self, reason: str, n: int = 1) -> None:
        if n:
            self.turns_skipped[reason] = self.turns_skipped.get(reason, 0) + n

    def check(self) -> None:
        total = self.turns_scored + self.turns_context + sum(self.turns_skipped.values())
        if total != self.turns_read:
            raise AccountingError(
                f"turn accounting mismatch: read {self.turns_read}, but scored {self.turns_scored} + "
                f"context {self.turns_context} + skipped {sum(self.turns_skipped.values())} = {total}")

    def to_dict(self) -> dict:
        return {"records_read": self.records_read, "records_skipped": dict(self.records_skipped),
                "dialogues_scored": self.dialogues_scored, "turns_read": self.turns_read,
                "turns_scored": self.turns_scored, "turns_context": self.turns_context,
                "turns_skipped": dict(self.turns_skipped), "windows_truncated": self.windows_truncated,
                "non_text_parts_skipped": self.non_text_parts_skipped,
                "dialogues_resumed": self.dialogues_resumed, "turns_resumed": self.turns_resumed}
