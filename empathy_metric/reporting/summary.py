"""The run summary (the `.json` output and the stdout table): signature, settings, counts, aggregates."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .statistics import BootstrapSettings, mean_intervals


@dataclass
class DialogueRow:
    dialogue_id: str
    n_turns: int
    metrics: dict[str, float]


def corpus_table(rows: list[DialogueRow], bootstrap: BootstrapSettings | None = None) -> dict[str, dict]:
    """Mean over dialogues of every metric, with the numbers behind it; with `bootstrap`, a CI from
    resampling dialogues. Rows are taken in dialogue-id order, so neither depends on input order."""
    if not rows:
        return {}
    n_turns = int(sum(r.n_turns for r in rows))
    names = list(rows[0].metrics)
    ordered = sorted(rows, key=lambda r: r.dialogue_id)
    values = np.array([[r.metrics[name] for name in names] for r in ordered], dtype=np.float64)
    table = {name: {"mean": float(values[:, k].mean()), "n_dialogues": len(rows), "n_turns": n_turns}
             for k, name in enumerate(names)}
    if bootstrap is not None:
        intervals = mean_intervals(values, bootstrap)
        for k, name in enumerate(names):
            table[name].update(ci_low=float(intervals.low[k]), ci_high=float(intervals.high[k]))
            if intervals.notes[k]:
                table[name]["ci_note"] = intervals.notes[k]
    return table


def build_summary(signature: dict, settings: dict, inputs: list[str], counts: dict,
                  corpus: dict[str, dict], rows: list[DialogueRow], extra: dict | None = None) -> dict:
    summary = {"signature": signature, "settings": settings, "inputs": inputs, "counts": counts,
               "corpus": corpus,
               "dialogues": [{"dialogue_id": r.dialogue_id, "n_turns": r.n_turns, "metrics": r.metrics}
                             for r in rows]}
    summary.update(extra or {})
    return summary
