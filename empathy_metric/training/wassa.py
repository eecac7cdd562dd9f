"""WASSA 2023 track CONV: conversation turns rated by third parties for perceived empathy (0..5).

The files hold one turn a line, `PREVIOUS<s>TARGET</s>NEXT`, with its labels (`polarity intensity
empathy`) on the same line of `*_context_labels.txt`. Conversation ids did not survive, but turns
are in conversation order: a line whose PREVIOUS is the TARGET of the line before continues that
conversation, so whole conversations (and hence full windows and dialogue-level grouping) are
recovered. Every turn is rated, so every turn is scored, with its speaker as the "agent".
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from ..dialogue import Dialogue, Turn
from ..errors import InputError
from ..pipeline.windows import WindowSettings, dialogue_windows
from .data import LabelledWindow

EMPATHY_SCALE = 5.0      # ratings are 0..5; targets and scores are rating / 5
SPEAKERS = ("a", "b")


def read_wassa(folder: str | Path, split: str) -> list[tuple[list[str], list[float]]]:
    """[(turn texts, empathy ratings)] per conversation, in file order."""
    folder = Path(folder)
    text_path = folder / f"{split}_context_w1.txt"
    label_path = folder / f"{split}_context_labels.txt"
    texts = text_path.read_text(encoding="utf-8").splitlines()
    labels = label_path.read_text(encoding="utf-8").splitlines()
    if len(texts) != len(labels):
        raise InputError(f"{len(texts)} turns but {len(labels)} label lines", source=str(label_path))
    conversations: list[tuple[list[str], list[float]]] = []
    previous_target = None
    for number, (line, label_line) in enumerate(zip(texts, labels), start=1):
        if "<s>" not in line or "</s>" not in line:
            raise InputError("expected PREVIOUS<s>TARGET</s>NEXT", source=str(text_path), line=number)
        before, rest = line.split("<s>", 1)
        target, _ = rest.split("</s>", 1)
        values = label_line.split()
        try:
            empathy = float(values[2])
        except (IndexError, ValueError):
            raise InputError("expected three numbers: polarity intensity empathy",
                             source=str(label_path), line=number, field="empathy") from None
        if not before or before != previous_target or not conversations:
            conversations.append(([], []))
        conversations[-1][0].append(target)
        conversations[-1][1].append(empathy)
        previous_target = target
    return conversations


def wassa_dialogues(folder: str | Path, split: str) -> list[Dialogue]:
    """The conversations of a split as dialogues; speakers alternate as roles "a" and "b", and each
    turn's rating (0..5) is its gold `empathy`."""
    dialogues = []
    for number, (texts, ratings) in enumerate(read_wassa(folder, split)):
        turns = [Turn(role=SPEAKERS[i % 2], text=t, index=i, gold={"empathy": r})
                 for i, (t, r) in enumerate(zip(texts, ratings))]
        dialogues.append(Dialogue(dialogue_id=f"wassa-{split}-{number}", turns=turns, turns_read=len(turns)))
    return dialogues


def wassa_windows(folder: str | Path, split: str, settings: WindowSettings,
                  dims: list[str]) -> list[LabelledWindow]:
    """One window per rated turn, its speaker as the agent; the `empathy` target is the rating / 5."""
    found = []
    column = dims.index("empathy")
    for dialogue in wassa_dialogues(folder, split):
        windows = [w for speaker in SPEAKERS
                   for w in dialogue_windows(dialogue, settings, frozenset({speaker}))]
        for window in sorted(windows, key=lambda w: w.turn_index):
            target = np.full(len(dims), np.nan, dtype=np.float32)
            target[column] = window.gold["empathy"] / EMPATHY_SCALE
            found.append(LabelledWindow(window, {}, target, dialogue.dialogue_id, "wassa"))
    return found
