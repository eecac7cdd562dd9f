"""How well each metric agrees with people's ratings, and the paper's Table 2. Pure functions over arrays.

A *unit* is what one rating rates: a dialogue (a dialogue-level rating) or some agent turns of one
dialogue (a turn-level rating; reporting/rated_units.py builds the units). For each rating:
- **agreement** of every metric with it over the units: Pearson r, Spearman rho, ROC-AUC for the
  rating made binary at `high` (a unit rated >= high is positive, default_high says where by default;
  AUC = Mann-Whitney U / (n_pos n_neg), ties count half), and Pearson r with reply length partialled out (both sides regressed on
  the unit's mean log(1 + words)); reply length itself is a reference row;
- **intents** (Xu & Jiang's Table 2): for every expressed intent (a label of a task), the mean rating
  of the units where it is present and where it is absent, their difference, a two-sided Mann-Whitney
  U test, and Holm's correction over the intents of the rating.
CIs are percentile bootstrap intervals that resample dialogues: the units of one dialogue move
together (they are not independent). scipy.stats.bootstrap draws dialogue indices; every statistic of
a rating is computed in one vectorised pass, a resample being frequency weights on the units: weighted
Pearson, weighted mid-ranks (Spearman, AUC) and weighted means equal the statistics of the resampled
data exactly. A statistic undefined in some resample (e.g. an intent absent from every dialogue drawn)
gets its CI from the resamples where it is defined while they are at least 90% (a note says so), else
no CI, and a note says why. The Mann-Whitney test treats units as independent: for turn-level
ratings (several units per dialogue) its p-value is optimistic; the CI of the difference is not.
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np

from .statistics import BATCH_CELLS, BootstrapSettings, resample_counts

LENGTH = "reply_length"             # the reference row: mean log(1 + words) of the rated agent turns
AGREEMENT_STATS = ("pearson", "spearman", "auc", "partial_pearson")
MIN_DIALOGUES = 10                  # with fewer rated dialogues, bootstrap CIs are unreliable
MAX_UNDEFINED_SHARE = 0.1           # a CI from the defined resamples while at most this share is undefined


@dataclass(frozen=True)
class RatedUnits:
    """One rating's units, one row each, dialogues in a canonical order (results never depend on
    input order)."""
    ratings: np.ndarray         # (U,) the rating (several ratings of one unit: their mean)
    metrics: np.ndarray         # (U, M) each metric over the unit's agent turns
    length: np.ndarray          # (U,) mean log(1 + words) of the unit's agent turns
    present: np.ndarray         # (U, K) bool: intent k is the label of >= 1 of the unit's turns
    dialogue: np.ndarray        # (U,) int: the unit's dialogue, 0 .. n_dialogues - 1

    @property
    def n_dialogues(self) -> int:
        return int(self.dialogue.max()) + 1 if len(self.dialogue) else 0


def holm(p_values) -> np.ndarray:
    """Holm's step-down adjusted p-values, in input order; NaN (no test) stays NaN and is not counted."""
    p = np.asarray(p_values, dtype=np.float64)
    adjusted = np.full(p.shape, np.nan)
    tested = np.flatnonzero(~np.isnan(p))
    order = tested[np.argsort(p[tested], kind="stable")]
    steps = p[order] * (len(order) - np.arange(len(order)))
    adjusted[order] = np.minimum(1.0, np.maximum.accumulate(steps)) if len(order) else steps
    return adjusted


def midranks(values: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Ranks of `values` (U,) in each resample of `weights` (B, U), where unit u appears weights[b, u]
    times; tied values share the mean of their positions (scipy.stats.rankdata's 'average'). Units drawn
    no time get a rank too, which their zero weight ignores."""
    order = np.argsort(values, kind="stable")
    new_value = np.r_[True, values[order][1:] != values[order][:-1]]
    group = np.empty(len(values), dtype=np.intp)
    group[order] = np.cumsum(new_value) - 1
    per_group = np.add.reduceat(weights[:, order], np.flatnonzero(new_value), axis=1)
    return (np.cumsum(per_group, axis=1) - (per_group - 1) / 2)[:, group]


def _correlation(cov, var_a, var_b, square_a, square_b):
    """r from weighted (co)variances; NaN where a side does not vary beyond the rounding of its mean
    square (a side constant in a resample)."""
    with np.errstate(invalid="ignore", divide="ignore"):
        r = cov / np.sqrt(var_a * var_b)
    varies = (var_a > 1e-12 * square_a) & (var_b > 1e-12 * square_b)
    return np.where(varies, np.clip(r, -1.0, 1.0), np.nan)


def _partial(r_xy, r_xl, r_yl):
    with np.errstate(invalid="ignore", divide="ignore"):
        return (r_xy - r_xl * r_yl) / np.sqrt((1 - r_xl ** 2) * (1 - r_yl ** 2))


def _statistics(units: RatedUnits, positive: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Every statistic of one rating under unit weights (B, U) -> (S, B): for each metric and then
    reply length, AGREEMENT_STATS; then each intent's difference of means (present - absent).
    Pearson from weighted moments (matrix products); Spearman and AUC from weighted mid-ranks, whose
    weighted mean is (N + 1) / 2 for N units drawn."""
    n = weights.sum(axis=1)[:, None]                                        # (B, 1)
    columns = np.column_stack([units.metrics, units.length, units.ratings])  # ..., length, rating
    centred = columns - columns.mean(axis=0)
    mean, square = weights @ centred / n, weights @ centred ** 2 / n
    var = square - mean ** 2

    def r_with(j: int) -> np.ndarray:         # Pearson r of every column with column j
        cov = weights @ (centred * centred[:, [j]]) / n - mean * mean[:, [j]]
        return _correlation(cov, var, var[:, [j]], square, square[:, [j]])
    r_y, r_l = r_with(-1), r_with(-2)
    pearson = r_y[:, :-1].T                                                # metrics and length
    partial = np.vstack([_partial(r_y[:, :-2], r_l[:, :-2], r_y[:, -2:-1]).T, np.full((1, len(n)), np.nan)])

    mean_rank = (n[:, 0] + 1) / 2
    y_ranks = midranks(units.ratings, weights)
    y_square = (weights * y_ranks * y_ranks).sum(axis=1) / n[:, 0]
    spearman, auc = [], []
    n_pos = weights @ positive
    for x in columns[:, :-1].T:
        x_ranks = midranks(x, weights)
        weighted_ranks = weights * x_ranks
        x_square = np.einsum("bu,bu->b", weighted_ranks, x_ranks) / n[:, 0]
        cov = np.einsum("bu,bu->b", weighted_ranks, y_ranks) / n[:, 0] - mean_rank ** 2
        spearman.append(_correlation(cov, x_square - mean_rank ** 2, y_square - mean_rank ** 2,
                                     x_square, y_square))
        with np.errstate(invalid="ignore", divide="ignore"):
            auc.append((weighted_ranks @ positive - n_pos * (n_pos + 1) / 2) / (n_pos * (n[:, 0] - n_pos)))
    per_column = np.stack([pearson, np.array(spearman), np.array(auc), partial], axis=1)   # (M+1, 4, B)

    present = units.present.astype(np.float64)
    n_present = weights @ present
    n_absent = n - n_present
    sum_present = weights @ (present * units.ratings[:, None])
    with np.errstate(invalid="ignore", divide="ignore"):
        difference = sum_present / n_present - ((weights @ units.ratings)[:, None] - sum_present) / n_absent
    difference[(n_present == 0) | (n_absent == 0)] = np.nan
    return np.vstack([per_column.reshape(-1, len(n)), difference.T])


def _intervals(units: RatedUnits, positive: np.ndarray, settings: BootstrapSettings):
    """(low, high, undefined resamples) of every statistic, resampling dialogues."""
    from scipy import stats
    n = units.n_dialogues

    def statistic(indices, axis=-1):
        weights = resample_counts(indices, n)[:, units.dialogue]
        found = _statistics(units, positive, weights)
        return found[:, 0] if np.ndim(indices) == 1 else found
    with warnings.catch_warnings():
        # scipy warns (naming BCa) when a statistic is NaN in some resample: said in a note instead.
        warnings.simplefilter("ignore")
        result = stats.bootstrap((np.arange(n),), statistic, vectorized=True, n_resamples=settings.n_resamples,
                                 batch=max(1, BATCH_CELLS // max(1, len(units.ratings))),
                                 confidence_level=settings.confidence, method="percentile",
                                 rng=np.random.default_rng(settings.seed))
    distribution = result.bootstrap_distribution
    undefined = np.isnan(distribution).sum(axis=-1)
    low, high = np.array(result.confidence_interval.low), np.array(result.confidence_interval.high)
    # A few resamples without both classes (ROC-AUC) or with constant values leave a statistic
    # undefined: its percentile CI is then taken over the resamples where it is defined.
    few = (undefined > 0) & (undefined <= MAX_UNDEFINED_SHARE * settings.n_resamples)
    if few.any():
        alpha = (1 - settings.confidence) / 2
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            low[few] = np.nanquantile(distribution[few], alpha, axis=-1)
            high[few] = np.nanquantile(distribution[few], 1 - alpha, axis=-1)
    return low, high, undefined


def _number(value) -> float | None:
    return None if value is None or np.isnan(value) else float(value)


def _estimate(value: float, k: int, intervals, n_resamples: int) -> dict:
    entry = {"value": _number(value)}
    if intervals is None or entry["value"] is None:
        return entry
    low, high, undefined = intervals
    why = ("resamples of dialogues whose units are all on one side of the threshold (ROC-AUC) or have "
           "constant values")
    if undefined[k] > MAX_UNDEFINED_SHARE * n_resamples:
        entry.update(ci_low=None, ci_high=None,
                     ci_note=f"no CI: undefined in {undefined[k]} of {n_resamples} resamples ({why}); "
                             "more rated dialogues on both sides would give one")
    else:
        entry.update(ci_low=float(low[k]), ci_high=float(high[k]))
        if undefined[k]:
            entry["ci_note"] = (f"from the {n_resamples - undefined[k]} of {n_resamples} resamples where it "
                                f"is defined (the others: {why})")
    return entry


def default_high(ratings: np.ndarray) -> float:
    """Where a rating is made binary for ROC-AUC by default (high = rating >= this): a rating with two
    values (0/1, yes/no) is split between them; otherwise at the value that splits the rated units
    closest to half, both sides non-empty (ties: the higher value). On a 1..5 scale skewed high this is
    the top of the scale when most units are there. A rating with one value cannot be split: its
    only value (no ROC-AUC, and a warning)."""
    values = np.unique(ratings)
    if len(values) <= 2:
        return float(values[-1])
    n_high = np.array([(ratings >= v).sum() for v in values[1:]])
    distance = np.abs(n_high - len(ratings) / 2)
    return float(values[1:][np.flatnonzero(distance == distance.min())[-1]])


def mann_whitney(ratings: np.ndarray, present: np.ndarray) -> tuple[float, float]:
    """(U of the present group, two-sided p); NaN when a group is empty or every rating is equal."""
    from scipy import stats
    inside, outside = ratings[present], ratings[~present]
    if not len(inside) or not len(outside) or np.all(ratings == ratings[0]):
        return np.nan, np.nan
    test = stats.mannwhitneyu(inside, outside, alternative="two-sided")
    return float(test.statistic), float(test.pvalue)


def analyze_rating(units: RatedUnits, metric_names: list[str], intent_names: list[str],
                   high: float | None = None, bootstrap: BootstrapSettings | None = None) -> dict:
    """Agreement of every metric with one rating, and its intent table (Table 2), with CIs."""
    high = default_high(units.ratings) if high is None else float(high)
    positive = (units.ratings >= high).astype(np.float64)
    point = _statistics(units, positive, np.ones((1, len(units.ratings))))[:, 0]
    intervals = _intervals(units, positive, bootstrap) if bootstrap and units.n_dialogues > 1 else None
    n_resamples = bootstrap.n_resamples if bootstrap else 0
    agreement = []
    for m, name in enumerate([*metric_names, LENGTH]):
        entry = {"metric": name}
        for s, stat in enumerate(AGREEMENT_STATS):
            k = m * len(AGREEMENT_STATS) + s
            if not (name == LENGTH and stat == "partial_pearson"):
                entry[stat] = _estimate(point[k], k, intervals, n_resamples)
        agreement.append(entry)
    offset = (len(metric_names) + 1) * len(AGREEMENT_STATS)
    tests = [mann_whitney(units.ratings, units.present[:, i]) for i in range(len(intent_names))]
    adjusted = holm([p for _, p in tests])
    intents = []
    for i, name in enumerate(intent_names):
        inside = units.present[:, i]
        intents.append({
            "intent": name, "n_present": int(inside.sum()), "n_absent": int((~inside).sum()),
            "mean_present": _number(units.ratings[inside].mean()) if inside.any() else None,
            "mean_absent": _number(units.ratings[~inside].mean()) if (~inside).any() else None,
            "difference": _estimate(point[offset + i], offset + i, intervals, n_resamples),
            "mann_whitney_u": _number(tests[i][0]), "p_value": _number(tests[i][1]),
            "p_holm": _number(adjusted[i])})
    return {"n_units": len(units.ratings), "n_dialogues": units.n_dialogues,
            "rating_mean": float(units.ratings.mean()), "high": high, "n_high": int(positive.sum()),
            "agreement": agreement, "intents": intents, "warnings": _warnings(units, positive, high)}


def _warnings(units: RatedUnits, positive: np.ndarray, high: float) -> list[str]:
    found = []
    if units.n_dialogues < MIN_DIALOGUES:
        found.append(f"only {units.n_dialogues} rated dialogue(s): with fewer than {MIN_DIALOGUES}, "
                     "CIs are unreliable")
    if positive.all() or not positive.any():
        side = "below" if positive.all() else "at or above"
        found.append(f"no unit is rated {side} {high:g}: no ROC-AUC (set another threshold with --high)")
    if np.all(units.ratings == units.ratings[0]):
        found.append("every unit has the same rating: no correlation or test")
    return found
