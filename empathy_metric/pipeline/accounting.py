"""Every turn read is accounted for: scored, context-only, or skipped with a reason; every record read
became a scored dialogue, a dialogue with nothing to score, or a skipped record."""
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
    # Dialogues with nothing to score, by reason: "no_turns" (none at all, or all skipped),
    # "no_agent_turn" (turns, but none of an agent role).
    dialogues_skipped: dict[str, int] = field(default_factory=dict)
    # Turns of roles that are not agent roles, by role as written: the other party, or an agent role
    # the user did not name (`AI`), which the CLI warns about.
    roles_not_scored: dict[str, int] = field(default_factory=dict)
    windows_truncated: int = 0
    non_text_parts_skipped: int = 0
    # --resume: dialogues (and their scored turns) taken from the earlier run's output instead of
    # being scored again; they are also counted in dialogues_scored / turns_scored.
    dialogues_resumed: int = 0
    turns_resumed: int = 0

    def add(self, other: "Counts") -> None:
        """The counts of another part of the same run (a block scored in a worker)."""
        for name, value in vars(other).items():
            if isinstance(value, dict):
                mine = getattr(self, name)
                for key, n in value.items():
                    mine[key] = mine.get(key, 0) + n
            else:
                setattr(self, name, getattr(self, name) + value)

    def add_skipped(self, reason: str, n: int = 1) -> None:
        if n:
            self.turns_skipped[reason] = self.turns_skipped.get(reason, 0) + n

    def skip_dialogue(self, reason: str) -> None:
        self.dialogues_skipped[reason] = self.dialogues_skipped.get(reason, 0) + 1

    def check(self) -> None:
        total = self.turns_scored + self.turns_context + sum(self.turns_skipped.values())
        if total != self.turns_read:
            raise AccountingError(
                f"turn accounting mismatch: read {self.turns_read}, but scored {self.turns_scored} + "
                f"context {self.turns_context} + skipped {sum(self.turns_skipped.values())} = {total}")

    def check_records(self) -> None:
        """Once records_read and records_skipped are known (the reader counts them)."""
        total = self.dialogues_scored + sum(self.dialogues_skipped.values()) + sum(self.records_skipped.values())
        if total != self.records_read:
            raise AccountingError(
                f"record accounting mismatch: read {self.records_read}, but dialogues scored "
                f"{self.dialogues_scored} + without anything to score {sum(self.dialogues_skipped.values())} "
                f"+ records skipped {sum(self.records_skipped.values())} = {total}")

    def to_dict(self) -> dict:
        return {"records_read": self.records_read, "records_skipped": dict(self.records_skipped),
                "dialogues_scored": self.dialogues_scored, "turns_read": self.turns_read,
                "turns_scored": self.turns_scored, "turns_context": self.turns_context,
                "turns_skipped": dict(self.turns_skipped), "dialogues_skipped": dict(self.dialogues_skipped),
                "roles_not_scored": dict(self.roles_not_scored), "windows_truncated": self.windows_truncated,
                "non_text_parts_skipped": self.non_text_parts_skipped,
                "dialogues_resumed": self.dialogues_resumed, "turns_resumed": self.turns_resumed}
