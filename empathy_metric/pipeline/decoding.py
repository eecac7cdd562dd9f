"""Raw outputs -> label names, probabilities and perceived scores for each scored utterance."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..errors import ModelError
from ..schemas import Task
from .encoding import cut_parts
from .quantification import quantifier
from .windows import Window

PROB_DECIMALS = 6     # outputs are rounded so that text output is stable across runs and machines


@dataclass
class UtteranceScore:
    dialogue_id: str
    turn_index: int
    role: str
    labels: dict[str, str]
    probs: dict[str, dict[str, float]]
    perceived: dict[str, float]
    truncated: bool = False
    gold: dict = field(default_factory=dict)
    text: str = ""         # the scored turn's text, as read (before any window truncation)
    # what was cut when the window did not fit: "turn" (the scored turn itself), "context_before",
    # "context_after" (turns around it left out or cut); [] when nothing was
    truncated_parts: list[str] = field(default_factory=list)
    # whether it nearly repeats an earlier agent turn of its dialogue (repetition.py): set once the whole
    # dialogue is scored, written in the record, so that saved records give `repetition.rate` without text
    repeats: bool | None = None

    def to_record(self, include_text: bool = False) -> dict:
        """The per-turn output record; `include_text` adds the scored turn's text (`--include-text`)."""
        record = {"dialogue_id": self.dialogue_id, "turn_index": self.turn_index, "role": self.role,
                  "labels": self.labels, "probs": self.probs, "perceived": self.perceived,
                  "truncated": self.truncated, "truncated_parts": self.truncated_parts}
        if self.repeats is not None:
            record["repeats"] = self.repeats
        if self.gold:
            record["gold"] = self.gold
        if include_text:
            record["text"] = self.text
        return record


def check_outputs(windows: list[Window], outputs: dict[str, np.ndarray], tasks: list[Task],
                  perceived_dims: list[str]) -> None:
    """A ModelError unless every output the tasks need is there, one row per window, one column per
    label (or dimension), all finite: NaN compares false with everything, so it would pass any gate
    and its argmax would always be the first label."""
    widths = {f"logits.{t.name}": len(t.labels) for t in tasks}
    if perceived_dims:
        widths["perceived"] = len(perceived_dims)
    for name, width in widths.items():
        value = outputs.get(name)
        if value is None:
            raise ModelError(f"the model gives no '{name}' output")
        if value.shape != (len(windows), width):
            raise ModelError(f"the model's '{name}' output has shape {tuple(value.shape)}; "
                             f"expected ({len(windows)}, {width}): one row per window, one column per "
                             + ("label" if name != "perceived" else "dimension"))
        bad = ~np.isfinite(value).all(axis=1)
        if bad.any():
            first = windows[int(np.argmax(bad))]
            raise ModelError(f"the model's '{name}' output is not finite (NaN or infinite) for "
                             f"{int(bad.sum())} of {len(windows)} windows; the first is dialogue "
                             f"'{first.dialogue_id}' turn {first.turn_index}")


def decode(windows: list[Window], outputs: dict[str, np.ndarray], truncated: np.ndarray,
           tasks: list[Task], perceived_dims: list[str]) -> list[UtteranceScore]:
    check_outputs(windows, outputs, tasks, perceived_dims)
    # probs are calibrated when the task's rates are estimated from them (pcc); labels stay the argmax
    # of the model's logits, its decision rule
    probs = {t.name: np.round(quantifier(t).probabilities(outputs[f"logits.{t.name}"].astype(np.float64)),
                              PROB_DECIMALS) for t in tasks}
    best = {t.name: outputs[f"logits.{t.name}"].argmax(-1) for t in tasks}
    perceived = np.round(outputs["perceived"].astype(np.float64), PROB_DECIMALS) if perceived_dims else None
    scores = []
    for i, w in enumerate(windows):
        scores.append(UtteranceScore(
            dialogue_id=w.dialogue_id, turn_index=w.turn_index, role=w.role,
            labels={t.name: t.labels[best[t.name][i]] for t in tasks},
            probs={t.name: {label: float(p) for label, p in zip(t.labels, probs[t.name][i])}
                   for t in tasks},
            perceived={d: float(perceived[i, k]) for k, d in enumerate(perceived_dims)}
            if perceived is not None else {},
            truncated=bool(truncated[i]), gold=w.gold, text=w.target, truncated_parts=cut_parts(truncated[i])))
    return scores
