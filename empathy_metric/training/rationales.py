"""EPITOME rationales as token labels: an auxiliary training signal for the EMH heads.

Sharma et al. (2020) annotated, for every response with a mechanism, the spans that carry it
(`rationales`, `|`-separated substrings of the response) and trained rationale extraction jointly
with the level classifier. We do the same: a training-only token head predicts, for each token of the
scored turn, whether it lies in a rationale of each EMH mechanism. The head is not exported; it only
shapes the shared encoder.
"""
from __future__ import annotations

import numpy as np

RATIONALE_TASKS = ("emh_emotional_reactions", "emh_interpretations", "emh_explorations")


def rationale_char_spans(text: str, rationales: str) -> list[tuple[int, int]]:
    """Character ranges of each `|`-separated span in `text` (spans not found are ignored)."""
    spans = []
    for piece in rationales.split("|"):
        piece = piece.strip()
        start = text.find(piece) if piece else -1
        if start >= 0:
            spans.append((start, start + len(piece)))
    return spans


def token_rationale_labels(offsets: list[tuple[int, int]], text: str, labels: dict[str, int],
                           rationales: dict[str, str]) -> np.ndarray | None:
    """[tokens, len(RATIONALE_TASKS)] float32: 1 inside a rationale, 0 outside, NaN where unknown.

    Level 0 ("no communication") means no rationale: every token is 0. A level above 0 without a
    span we can find in the text is unknown, not negative."""
    out = np.full((len(offsets), len(RATIONALE_TASKS)), np.nan, dtype=np.float32)
    for column, task in enumerate(RATIONALE_TASKS):
        if task not in labels:
            continue
        if labels[task] == 0:
            out[:, column] = 0.0
            continue
        spans = rationale_char_spans(text, rationales.get(task, ""))
        if spans:
            out[:, column] = [float(any(s < end and start < e for s, e in spans)) for start, end in offsets]
    return None if np.isnan(out).all() else out
