"""The in-memory shape of a dialogue, shared by readers, windows, training and scoring."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

# Roles whose turns are the agent's unless the user says otherwise (--agent-role). "model" is
# Gemini's name for the assistant.
DEFAULT_AGENT_ROLES = frozenset({"assistant", "sys", "supporter", "gpt", "agent", "bot", "chatbot",
                                 "response", "listener", "therapist", "counselor", "model"})
# Roles that are not part of the conversation: never scored, never used as context, counted as skipped.
NON_DIALOGUE_ROLES = frozenset({"system", "developer", "tool", "function", "ipython"})


def normalize_role(role: str) -> str:
    """How roles are compared: neither case nor whitespace counts ("Assistant " is "assistant")."""
    return " ".join(role.split()).casefold()


@dataclass(frozen=True)
class Turn:
    role: str                      # the role exactly as written in the input
    text: str
    index: int                     # 0-based position in the input dialogue's turn list
    gold: dict[str, Any] = field(default_factory=dict)   # gold labels found in the input; kept, never used


@dataclass
class Dialogue:
    dialogue_id: str
    turns: list[Turn]              # conversation turns only (skipped ones removed, indices kept)
    source: str = ""               # FILE:LINE of the record, for messages
    meta: dict[str, Any] = field(default_factory=dict)    # e.g. ESConv survey scores
    skipped: dict[str, int] = field(default_factory=dict)  # reason -> turns dropped while reading
    turns_read: int = 0            # every turn the record held, kept or not
    truncated_parts: int = 0       # non-text content parts dropped (counted, see skipped)
    # (input number, block number) of a JSONL record (io.readers.BlockCutter): chunks never span blocks
    block: tuple[int, int] | None = None
