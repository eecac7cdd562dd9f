"""Scoring generated responses in their context, for the `evaluate` metric.

Each (prediction, context) pair becomes a dialogue: the context turns alternate user/agent and end
with the user's turn, the prediction is the agent's reply. Only the reply is scored (context agent
turns are context, not results): its window is cut by `windows.dialogue_windows`, run by the
Scorer's backend and decoded by `decoding.decode`, as `Scorer.iter_scores` does for whole logs.
Aggregates reuse `aggregation.dialogue_metrics` and `summary.corpus_table` (each response is one
unit, so a CI resamples responses).
"""
from __future__ import annotations

from ..pipeline.aggregation import dialogue_metrics
from ..pipeline.decoding import UtteranceScore, decode
from ..dialogue import Dialogue, Turn
from ..errors import InputError
from ..api import WINDOWS_PER_CHUNK
from ..reporting.statistics import DEFAULT_CONFIDENCE, BootstrapSettings
from ..reporting.summary import DialogueRow, corpus_table
from ..pipeline.windows import dialogue_windows

USER, AGENT = "user", "assistant"


def _type_name(value) -> str:
    return type(value).__name__


def context_list(context, index: int) -> list[str]:
    """A context as a list of turns: one string is one (user) turn; None or "" is no context."""
    if context is None:
        return []
    if isinstance(context, str):
        return [context] if context else []
    if isinstance(context, (list, tuple)) and all(isinstance(t, str) for t in context):
        return list(context)
    raise InputError(f"contexts[{index}] must be a string or a list of strings, got {_type_name(context)}",
                     field="contexts")


def response_dialogue(index: int, prediction: str, context: list[str]) -> Dialogue:
    if not isinstance(prediction, str):
        raise InputError(f"predictions[{index}] must be a string, got {_type_name(prediction)}",
                         field="predictions")
    n = len(context)
    turns = [Turn(role=USER if (n - 1 - k) % 2 == 0 else AGENT, text=text, index=k)
             for k, text in enumerate(context)]
    turns.append(Turn(role=AGENT, text=prediction, index=n))
    return Dialogue(dialogue_id=f"response-{index:09d}", turns=turns, turns_read=n + 1)


def score_responses(scorer, predictions: list[str], contexts: list) -> list[UtteranceScore]:
    """One UtteranceScore per prediction, in input order."""
    if len(predictions) != len(contexts):
        raise InputError(f"{len(predictions)} predictions but {len(contexts)} contexts")
    windows = []
    for i, (prediction, context) in enumerate(zip(predictions, contexts)):
        dialogue = response_dialogue(i, prediction, context_list(context, i))
        windows.append(dialogue_windows(dialogue, scorer.window_settings, scorer.agent_roles)[-1])
    scores = []
    for start in range(0, len(windows), WINDOWS_PER_CHUNK):      # bounded memory, as the Scorer
        chunk = windows[start:start + WINDOWS_PER_CHUNK]
        raw = scorer.backend.predict(chunk)
        scores += decode(chunk, raw.outputs, raw.truncated, scorer.tasks, scorer.perceived)
    return scores


def evaluation_result(scorer, predictions: list[str], contexts: list, bootstrap: int = 0,
                      confidence: float = DEFAULT_CONFIDENCE, seed: int = 0) -> dict:
    """What the metric's compute() returns. Keys are fixed; `bootstrap` > 0 adds CI fields."""
    scores = score_responses(scorer, predictions, contexts)
    rows = [DialogueRow(s.dialogue_id, 1, dialogue_metrics([s], scorer.tasks, scorer.perceived))
            for s in scores]
    settings = BootstrapSettings(int(bootstrap), float(confidence), int(seed)) if bootstrap else None
    return {
        "labels": {t.name: [s.labels[t.name] for s in scores] for t in scorer.tasks},
        "probs": {t.name: [s.probs[t.name] for s in scores] for t in scorer.tasks},
        "perceived": {d: [s.perceived[d] for s in scores] for d in scorer.perceived},
        "truncated": [s.truncated for s in scores],
        "corpus": corpus_table(rows, settings),
        "bootstrap": dict(settings.to_dict(), unit="response") if settings
        else {"unit": "response", "n_resamples": 0},
        "n_responses": len(scores),
        "signature": scorer.bundle.signature(),
    }


class ResponseScoring:
    """The Scorers of one metric instance: each (model, batch size) is loaded on first use and kept,
    so repeated compute() calls never reload a model."""

    def __init__(self, model: str | None = None, batch_size: int = 128, device: str = "cpu",
                 threads: int | None = None):
        self.model, self.batch_size, self.device, self.threads = model, batch_size, device, threads
        self._scorers: dict[tuple, object] = {}

    @property
    def loads(self) -> int:
        """How many models were loaded (tests check that it stays 1 across computes)."""
        return len(self._scorers)

    def scorer(self, model: str | None = None, batch_size: int | None = None):
        key = (model or self.model, batch_size or self.batch_size)
        if key not in self._scorers:
            from ..api import Scorer
            self._scorers[key] = Scorer.from_pretrained(key[0], device=self.device, threads=self.threads,
                                                        max_batch_size=key[1])
        return self._scorers[key]
