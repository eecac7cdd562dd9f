"""Windows: each agent turn with the turns around it, the unit every model scores."""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Iterable

from ..dialogue import Dialogue


@dataclass(frozen=True)
class WindowSettings:
    """How a window is cut and written. Defaults come from the bundle manifest."""

    turns_before: int = 3
    turns_after: int = 3
    max_tokens: int = 256          # whole encoded window, special tokens included
    agent_tag: str = "supporter:"  # written before each agent turn
    other_tag: str = "seeker:"     # written before each other-party turn
    truncation: str = "far-side"   # context is trimmed from the side far from the scored turn
    # Share of the token budget given to the *end* of a scored turn too long to fit; the rest keeps
    # its beginning. 0 keeps the beginning only (models up to minilm-empathy-v2). Head+tail is the
    # best cut for long texts (Sun et al. 2019), and EPITOME evidence often closes a long reply.
    target_tail: float = 0.0

    def to_dict(self) -> dict:
        return {"turns_before": self.turns_before, "turns_after": self.turns_after,
                "max_tokens": self.max_tokens, "truncation": self.truncation, "target_tail": self.target_tail,
                "speaker_tags": {"agent": self.agent_tag, "other": self.other_tag},
                "scored_roles": "agent"}

    @classmethod
    def from_dict(cls, data: dict) -> "WindowSettings":
        tags = data.get("speaker_tags", {})
        return cls(turns_before=int(data.get("turns_before", 3)),
                   turns_after=int(data.get("turns_after", 3)),
                   max_tokens=int(data.get("max_tokens", 256)),
                   agent_tag=tags.get("agent", "supporter:"), other_tag=tags.get("other", "seeker:"),
                   truncation=data.get("truncation", "far-side"),
                   target_tail=float(data.get("target_tail", 0.0)))

    def without_future(self) -> "WindowSettings":
        """Real-time use: only what was said before the scored turn."""
        return replace(self, turns_after=0)


@dataclass(frozen=True)
class ContextTurn:
    is_agent: bool
    text: str


@dataclass(frozen=True)
class Window:
    dialogue_id: str
    turn_index: int                      # 0-based index of the scored turn in the input dialogue
    role: str
    target: str
    before: tuple[ContextTurn, ...]      # oldest first
    after: tuple[ContextTurn, ...]       # nearest first
    gold: dict = field(default_factory=dict)


def is_agent_role(role: str, agent_roles: frozenset[str]) -> bool:
    return role.lower() in agent_roles


def is_blank(text: str) -> bool:
    return not text.strip()


def without_blank_turns(dialogue: Dialogue) -> tuple[Dialogue, int]:
    """The dialogue without turns that hold no text, and how many there were. The readers already
    drop them; dialogues built in code get the same treatment, so an empty reply is never scored
    (a model would give it a score that means nothing) and never stands in a window as context."""
    kept = [t for t in dialogue.turns if not is_blank(t.text)]
    if len(kept) == len(dialogue.turns):
        return dialogue, 0
    return replace(dialogue, turns=kept), len(dialogue.turns) - len(kept)


def dialogue_windows(dialogue: Dialogue, settings: WindowSettings,
                     agent_roles: frozenset[str]) -> list[Window]:
    """One window per agent turn with text, in dialogue order."""
    turns = dialogue.turns
    agent = [is_agent_role(t.role, agent_roles) for t in turns]
    windows = []
    for pos, turn in enumerate(turns):
        if not agent[pos] or is_blank(turn.text):
            continue
        lo = max(0, pos - settings.turns_before)
        hi = min(len(turns), pos + 1 + settings.turns_after)
        windows.append(Window(
            dialogue_id=dialogue.dialogue_id, turn_index=turn.index, role=turn.role, target=turn.text,
            before=tuple(ContextTurn(agent[i], turns[i].text) for i in range(lo, pos)),
            after=tuple(ContextTurn(agent[i], turns[i].text) for i in range(pos + 1, hi)),
            gold=turn.gold))
    return windows


def windows_of(dialogues: Iterable[Dialogue], settings: WindowSettings,
               agent_roles: frozenset[str]) -> list[Window]:
    return [w for d in dialogues for w in dialogue_windows(d, settings, agent_roles)]
