"""The run summary (the `.json` output and the stdout table): signature, settings, counts, aggregates."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class DialogueRow:
    dialogue_id: str
    n_turns: int
    metrics: dict[str, float]


def corpus_table(rows: list[DialogueRow]) -> dict[str, dict]:
    """Mean over dialogues of every metric, with the numbers behind it."""
    if not rows:
        return {}
    n_turns = int(sum(r.n_turns for r in rows))
    return {name: {"mean": float(np.mean([r.metrics[name] for r in rows])),
                   "n_dialogues": len(rows), "n_turns": n_turns}
            for name in rows[0].metrics}


def build_summary(signature: dict, settings: dict, inputs: list[str], counts: dict,
                  corpus: dict[str, dict], rows: list[DialogueRow], extra: dict | None = None) -> dict:
    summary = {"signature": signature, "settings": settings, "inputs": inputs, "counts": counts,
               "corpus": corpus,
               "dialogues": [{"dialogue_id": r.dialogue_id, "n_turns": r.n_turns, "metrics": r.metrics}
                             for r in rows]}
    summary.update(extra or {})
    return summary
