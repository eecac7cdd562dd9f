"""What the `evaluate` metric computes: generated responses scored in their context by
`api.score_responses` (each (prediction, context) pair becomes a dialogue whose last turn, the
prediction, is the one scored), and aggregates with `pipeline.aggregation.dialogue_metrics` and
`reporting.summary.corpus_table` (each response is one unit, so a CI resamples responses).
"""
from __future__ import annotations

from ..api import score_responses
from ..pipeline.aggregation import dialogue_metrics
from ..reporting.statistics import DEFAULT_CONFIDENCE, BootstrapSettings
from ..reporting.summary import DialogueRow, corpus_table


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
