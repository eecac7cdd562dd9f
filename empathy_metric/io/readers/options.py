"""What the user told us about the input's layout (CLI flags map one to one onto these fields)."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ...dialogue import DEFAULT_AGENT_ROLES

if TYPE_CHECKING:
    from .record_ratings import RecordRating

FORMATS = ("auto", "openai", "sharegpt", "esconv", "generic", "emh")
TURNS_KEYS = {"openai": "messages", "sharegpt": "conversations", "esconv": "dialog", "generic": "turns"}
ROLE_KEYS = ("role", "from", "speaker", "author")
TEXT_KEYS = ("content", "text", "value", "utterance")
ID_KEYS = ("id", "dialogue_id", "dialog_id", "conversation_id", "conv_id")


@dataclass(frozen=True)
class ReaderOptions:
    format: str = "auto"
    turns_key: str | None = None
    role_key: str | None = None
    text_key: str | None = None
    id_key: str | None = None
    agent_roles: frozenset[str] = field(default_factory=lambda: DEFAULT_AGENT_ROLES)
    on_error: str = "raise"        # or "skip": bad records are skipped and counted
    # Ratings carried by the records (`analyze --record-rating`): kept in Dialogue.meta["ratings"].
    record_ratings: tuple[RecordRating, ...] = ()
    # The longest record read into memory (a JSONL line, a CSV line, a whole-file JSON array):
    # streams.DEFAULT_MAX_RECORD_BYTES (64 MiB), --max-record-bytes.
    max_record_bytes: int = 64 * 1024 * 1024


def reads_as_csv(path: str, options: ReaderOptions) -> bool:
    """EMH/EPITOME CSV: asked for, or a .csv file under --format auto."""
    name = str(path).lower().removesuffix(".gz")
    return options.format == "emh" or (options.format == "auto" and name.endswith(".csv"))
