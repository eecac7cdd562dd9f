"""The bookkeeping of a scoring run, in input order: duplicate dialogue ids, the counts, dialogues
without an agent turn, dialogues already scored (`known`), and the cut into chunks of about a
backend chunk's windows (never two input blocks: io.readers.BlockCutter). The same code runs in
the parent (dialogues parsed here) and in a worker reading its own block (block_scoring.py)."""
from __future__ import annotations

from typing import Callable, Iterable, Iterator

from ..dialogue import Dialogue
from ..errors import InputError
from ..pipeline.accounting import Counts
from ..pipeline.aggregation import DialogueScore
from ..pipeline.windows import Window, WindowSettings, dialogue_windows, is_agent_role, without_blank_turns

# A dialogue's scores known without running the model (e.g. read back from an interrupted run's
# output), or None: known(dialogue, its windows) -> DialogueScore | None.
KnownScores = Callable[[Dialogue, list[Window]], "DialogueScore | None"]

# What `chunk_steps` yields: a chunk of dialogues to score, or the scores `known` gave a dialogue.
Step = "DialogueScore | list[Dialogue]"


def duplicate_id_error(dialogue_id: str, first_seen: str, source: str | None) -> InputError:
    return InputError(f"duplicate dialogue id '{dialogue_id}' (first seen at {first_seen})", source=source)


def count_duplicates(counts: Counts, n: int = 1) -> None:
    counts.records_skipped["duplicate_dialogue_id"] = counts.records_skipped.get("duplicate_dialogue_id", 0) + n


def chunk_steps(dialogues: Iterable[Dialogue], counts: Counts, on_error: str, known: KnownScores | None,
                agent_roles: frozenset[str], window_settings: WindowSettings, windows_per_chunk: int,
                seen: dict[str, str] | None = None) -> Iterator[Step]:
    """Chunks of about `windows_per_chunk` windows to score, or a dialogue's scores that `known` gave,
    in input order; `counts` filled in as dialogues pass. `seen`: the dialogue ids met so far
    (id -> where), filled in."""
    pending: list[Dialogue] = []
    n_windows = 0
    seen = {} if seen is None else seen
    for dialogue in dialogues:
        if pending and dialogue.block != pending[-1].block:
            yield pending
            pending, n_windows = [], 0
        if dialogue.dialogue_id in seen:
            error = duplicate_id_error(dialogue.dialogue_id, seen[dialogue.dialogue_id], dialogue.source or None)
            if on_error != "skip":
                raise error
            count_duplicates(counts)
            continue
        seen[dialogue.dialogue_id] = dialogue.source or dialogue.dialogue_id
        count_read(dialogue, counts)
        dialogue, blank = without_blank_turns(dialogue)
        if blank:
            counts.add_skipped("empty_text", blank)     # as the readers count them
        n_agent = count_roles(dialogue, agent_roles, counts)
        if not n_agent:
            counts.add_skipped("dialogue_without_agent_turn", len(dialogue.turns))
            counts.skip_dialogue("no_agent_turn" if dialogue.turns else "no_turns")
            continue
        counts.turns_scored += n_agent
        counts.turns_context += len(dialogue.turns) - n_agent
        reused = None
        if known is not None:
            reused = known(dialogue, dialogue_windows(dialogue, window_settings, agent_roles))
        if reused is not None:
            if pending:
                yield pending                             # keeps the output in input order
            pending, n_windows = [], 0
            yield reused
            continue
        pending.append(dialogue)
        n_windows += n_agent
        if n_windows >= windows_per_chunk:
            yield pending
            pending, n_windows = [], 0
    if pending:
        yield pending


def count_read(dialogue: Dialogue, counts: Counts) -> None:
    counts.turns_read += dialogue.turns_read
    counts.non_text_parts_skipped += dialogue.truncated_parts
    for reason, n in dialogue.skipped.items():
        counts.add_skipped(reason, n)


def count_roles(dialogue: Dialogue, agent_roles: frozenset[str], counts: Counts) -> int:
    """The dialogue's agent turns; the roles of the others counted as not scored."""
    n_agent = 0
    for turn in dialogue.turns:
        if is_agent_role(turn.role, agent_roles):
            n_agent += 1
        else:
            role = " ".join(turn.role.split())
            counts.roles_not_scored[role] = counts.roles_not_scored.get(role, 0) + 1
    return n_agent


def count_scored(score: DialogueScore, counts: Counts) -> None:
    counts.dialogues_scored += 1
    counts.windows_truncated += score.windows_truncated
