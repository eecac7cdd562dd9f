"""Bootstrap confidence intervals of corpus means, resampling dialogues, with scipy.stats.bootstrap.

Turns inside one dialogue are not independent, so the unit that is resampled is the dialogue: the
corpus value of a metric is the mean over dialogues of the per-dialogue values, and every resample
draws dialogues with replacement.

Method: "percentile" by default. BCa corrects bias and skew, but scipy computes it with a jackknife
(one extra statistic per left-out dialogue, O(n^2) work): hours at 100k dialogues. For a mean of
bounded per-dialogue values the bootstrap distribution is close to symmetric at the sample sizes a
gate should accept (see --min-dialogues), where percentile and BCa agree; BCa also returns NaN on
constant data. `method="BCa"` stays available to library callers with small corpora.

Speed: scipy resamples the *indices* of the dialogues (as it does itself for paired data); the
statistic turns each resample into per-dialogue counts and takes every metric's mean with one
matrix product. 100k dialogues x 30 metrics x 1000 resamples take seconds instead of gathering a
(resamples x dialogues x metrics) array.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np

DEFAULT_RESAMPLES = 1000
DEFAULT_CONFIDENCE = 0.95
DEFAULT_METHOD = "percentile"
BATCH_CELLS = 1 << 22          # resample x dialogue cells per batch (bounds the bootstrap's memory)
# numpy and scipy are imported inside the functions: the CLI imports this module for its defaults.


@dataclass(frozen=True)
class BootstrapSettings:
    n_resamples: int = DEFAULT_RESAMPLES
    confidence: float = DEFAULT_CONFIDENCE
    seed: int = 0
    method: str = DEFAULT_METHOD

    def to_dict(self) -> dict:
        return {"unit": "dialogue", "n_resamples": self.n_resamples, "confidence": self.confidence,
                "seed": self.seed, "method": self.method}


@dataclass
class MeanIntervals:
    """Per metric (columns of the input): mean over rows, CI bounds, and why a CI is degenerate."""
    mean: np.ndarray
    low: np.ndarray
    high: np.ndarray
    notes: list[str | None]


def resample_counts(indices, n: int) -> np.ndarray:
    """What scipy hands a vectorised statistic (rows of resampled dialogue indices, or one row) ->
    (resamples, n): how often each of the n dialogues was drawn in each resample."""
    import numpy as np
    rows = np.asarray(indices).reshape(-1, np.shape(indices)[-1])   # k = n-1 in BCa's jackknife
    offsets = (np.arange(rows.shape[0]) * n)[:, None]
    counts = np.bincount((rows + offsets).ravel(), minlength=rows.shape[0] * n)
    return counts.reshape(rows.shape[0], n).astype(np.float64)


def _resampled_means(values: np.ndarray):
    """A vectorised scipy statistic: rows of dialogue indices -> the mean of every metric."""
    import numpy as np

    def statistic(indices, axis=-1):
        counts = resample_counts(indices, values.shape[0])
        means = (counts @ values) / counts[0].sum()
        return means[0] if np.ndim(indices) == 1 else means.T     # (metrics, resamples), as scipy wants
    return statistic


def mean_intervals(values, settings: BootstrapSettings) -> MeanIntervals:
    """Bootstrap CIs of the column means of `values` (rows = dialogues, columns = metrics).

    Degenerate cases never raise: one row, or a column that is constant, gives [mean, mean] and a
    note. Rows are resampled in the order given: pass them in a canonical order (e.g. sorted by
    dialogue id) so that the interval does not depend on input order."""
    import numpy as np
    values = np.asarray(values, dtype=np.float64)
    if values.ndim != 2 or values.shape[0] == 0:
        raise ValueError("values must be a non-empty (dialogues x metrics) array")
    n, m = values.shape
    mean = values.mean(axis=0)
    low, high = mean.copy(), mean.copy()
    if n < 2:
        return MeanIntervals(mean, low, high, ["one dialogue: no interval"] * m)
    varying = ~np.all(values == values[0], axis=0)
    notes = [None if v else "constant over dialogues" for v in varying]
    if varying.any():
        from scipy import stats  # ~0.5 s to import: only when there is an interval to compute
        result = stats.bootstrap(
            (np.arange(n),), _resampled_means(values[:, varying]), vectorized=True,
            n_resamples=settings.n_resamples, batch=max(1, BATCH_CELLS // n),
            confidence_level=settings.confidence, method=settings.method,
            rng=np.random.default_rng(settings.seed))
        low[varying] = result.confidence_interval.low
        high[varying] = result.confidence_interval.high
    return MeanIntervals(mean, low, high, notes)
