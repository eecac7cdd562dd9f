"""What the `evaluate` metric computes: generated responses scored in their context by
`api.score_responses` (each (prediction, context) pair becomes a dialogue whose last turn, the
prediction, is the one scored), and aggregates with `pipeline.aggregation.dialogue_metrics` and
`reporting.summary.corpus_table` (each response is one unit, so a CI resamples responses).
By default compute() returns flat numbers, as other Hugging Face metrics do; `details=True` gives
the per-response labels, probabilities and scores and the nested aggregates.
"""
from __future__ import annotations

from ..api import score_responses
from ..pipeline.aggregation import dialogue_metrics
from ..reporting.headline import ordered_metrics
from ..reporting.metric_catalog import directions
from ..reporting.statistics import DEFAULT_CONFIDENCE, DEFAULT_RESAMPLES, BootstrapSettings
from ..reporting.summary import DialogueRow, corpus_table


def flat_result(result: dict) -> dict[str, float | int | None]:
    """What compute() returns by default, as Hugging Face metrics do: flat numbers. One key per corpus
    metric (its mean over responses), headline metrics first, each followed by `<metric>_ci_low` and
    `<metric>_ci_high` when there are CIs; then `n_responses` and `n_skipped_empty`."""
    corpus = result["corpus"]
    flat: dict[str, float | int | None] = {}
    for name in ordered_metrics(list(corpus), result.get("directions", {})):
        flat[name] = corpus[name]["mean"]
        if "ci_low" in corpus[name]:
            flat[f"{name}_ci_low"], flat[f"{name}_ci_high"] = corpus[name]["ci_low"], corpus[name]["ci_high"]
    flat["n_responses"], flat["n_skipped_empty"] = result["n_responses"], result["n_skipped_empty"]
    return flat


def evaluation_result(scorer, predictions: list[str], contexts: list, bootstrap: int = DEFAULT_RESAMPLES,
                      confidence: float = DEFAULT_CONFIDENCE, seed: int = 0, details: bool = False) -> dict:
    """What the metric's compute() returns: `flat_result` of the detailed result, or with `details` the
    detailed result itself (below)."""
    result = detailed_result(scorer, predictions, contexts, bootstrap, confidence, seed)
    if details:
        return result
    return flat_result(dict(result, directions=directions(scorer.tasks, scorer.perceived)))


def detailed_result(scorer, predictions: list[str], contexts: list, bootstrap: int = DEFAULT_RESAMPLES,
                    confidence: float = DEFAULT_CONFIDENCE, seed: int = 0) -> dict:
    """What the metric's compute() returns. Keys are fixed; `bootstrap` > 0 adds CI fields. An empty
    prediction is skipped and counted (`n_skipped_empty`): its per-response entries are None and it
    takes no part in the corpus aggregates."""
    scores = score_responses(scorer, predictions, contexts)
    scored = [s for s in scores if s is not None]
    rows = [DialogueRow(s.dialogue_id, 1, dialogue_metrics([s], scorer.tasks, scorer.perceived))
            for s in scored]
    settings = BootstrapSettings(int(bootstrap), float(confidence), int(seed)) if bootstrap else None

    def each(value_of):
        return [None if s is None else value_of(s) for s in scores]
    return {
        "labels": {t.name: each(lambda s, t=t: s.labels[t.name]) for t in scorer.tasks},
        "probs": {t.name: each(lambda s, t=t: s.probs[t.name]) for t in scorer.tasks},
        "perceived": {d: each(lambda s, d=d: s.perceived[d]) for d in scorer.perceived},
        "truncated": each(lambda s: s.truncated),
        "truncated_parts": each(lambda s: s.truncated_parts),
        "corpus": corpus_table(rows, settings) if rows else {},
        "bootstrap": dict(settings.to_dict(), unit="response") if settings
        else {"unit": "response", "n_resamples": 0},
        "n_responses": len(scored),
        "n_skipped_empty": len(scores) - len(scored),
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
