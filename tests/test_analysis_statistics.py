"""The statistics of `analyze` (reporting/analysis.py) against known answers: scipy's own Pearson,
Spearman and Mann-Whitney, partial correlation as the correlation of regression residuals, Holm by
hand, Table 2 by hand, and bootstrap CIs equal to the statistics of explicitly resampled dialogues."""
import numpy as np
import pytest
from scipy import stats

from empathy_metric.reporting.analysis import (LENGTH, RatedUnits, _statistics, analyze_rating, holm,
                                               midranks)
from empathy_metric.reporting.statistics import BootstrapSettings, resample_counts

pytestmark = pytest.mark.scoring


def _units(n_units=240, n_dialogues=40, seed=0):
    rng = np.random.default_rng(seed)
    dialogue = np.sort(rng.integers(0, n_dialogues, n_units))
    dialogue = np.unique(dialogue, return_inverse=True)[1]
    ratings = rng.integers(1, 6, n_units).astype(float)
    length = np.log1p(rng.integers(1, 40, n_units))
    metrics = np.column_stack([ratings + length + rng.normal(0, 2, n_units), rng.random(n_units),
                               (rng.random(n_units) > 0.7).astype(float)])
    present = rng.random((n_units, 2)) > 0.5
    return RatedUnits(ratings, metrics, length, present, dialogue)


def _residual(values, length):
    design = np.column_stack([np.ones_like(length), length])
    return values - design @ np.linalg.lstsq(design, values, rcond=None)[0]


def _direct(ratings, metrics, length, positive, k):
    """Pearson, Spearman, AUC and partial r of metric k, by scipy and by regression residuals."""
    x = metrics[:, k]
    pos = positive.astype(bool)
    return [stats.pearsonr(x, ratings)[0], stats.spearmanr(x, ratings)[0],
            stats.mannwhitneyu(x[pos], x[~pos]).statistic / (pos.sum() * (~pos).sum()),
            stats.pearsonr(_residual(x, length), _residual(ratings, length))[0]]


def test_point_estimates_equal_scipy_and_residual_correlation():
    units = _units()
    found = analyze_rating(units, ["a", "b", "c"], ["i", "j"])
    from empathy_metric.reporting.analysis import default_high
    positive = units.ratings >= default_high(units.ratings)
    assert found["high"] == default_high(units.ratings) and found["n_high"] == positive.sum()
    for k, name in enumerate("abc"):
        entry = found["agreement"][k]
        assert entry["metric"] == name
        got = [entry[s]["value"] for s in ("pearson", "spearman", "auc", "partial_pearson")]
        np.testing.assert_allclose(got, _direct(units.ratings, units.metrics, units.length, positive, k),
                                   atol=1e-12)
    length_row = found["agreement"][-1]
    assert length_row["metric"] == LENGTH and "partial_pearson" not in length_row
    assert length_row["pearson"]["value"] == pytest.approx(stats.pearsonr(units.length, units.ratings)[0])


def test_partial_correlation_removes_what_length_explains():
    """x and y both follow length and nothing else: r is large, the partial r is about 0."""
    rng = np.random.default_rng(1)
    length = rng.normal(size=500)
    units = RatedUnits(length + rng.normal(0, 0.3, 500), (length + rng.normal(0, 0.3, 500))[:, None], length,
                       np.zeros((500, 0), dtype=bool), np.arange(500))
    entry = analyze_rating(units, ["x"], [])["agreement"][0]
    assert entry["pearson"]["value"] > 0.8
    assert abs(entry["partial_pearson"]["value"]) < 0.1


def test_auc_of_separating_reversed_and_tied_metrics():
    ratings = np.array([1.0, 2, 3, 4, 5, 5])
    metrics = np.column_stack([ratings, -ratings, np.ones(6)])
    units = RatedUnits(ratings, metrics, np.zeros(6), np.zeros((6, 0), dtype=bool), np.arange(6))
    auc = [e["auc"]["value"] for e in analyze_rating(units, ["same", "reversed", "tied"], [], high=4)["agreement"]]
    assert auc[:3] == [1.0, 0.0, 0.5]


def test_holm_adjusts_step_down_in_input_order():
    # sorted 0.005*4 = 0.02, 0.01*3 = 0.03, 0.03*2 = 0.06, 0.04*1 = 0.04 -> kept monotone: 0.06
    np.testing.assert_allclose(holm([0.01, 0.04, 0.03, 0.005]), [0.03, 0.06, 0.06, 0.02])
    adjusted = holm([0.5, np.nan, 0.01])               # NaN is no test: m = 2
    np.testing.assert_allclose(adjusted[[0, 2]], [0.5, 0.02])
    assert np.isnan(adjusted[1])
    np.testing.assert_allclose(holm([0.02, 0.04]), [0.04, 0.04])
    assert holm([0.9, 0.8]).tolist() == [1.0, 1.0] and holm([]).size == 0


def test_intent_table_by_hand():
    ratings = np.array([5.0, 5, 4, 1, 1, 2])
    present = np.array([[1, 1, 1, 0, 0, 0], [1, 0, 1, 0, 1, 0], [1, 1, 1, 1, 1, 1]], dtype=bool).T
    units = RatedUnits(ratings, np.zeros((6, 0)), np.zeros(6), present, np.arange(6))
    rows = analyze_rating(units, [], ["a", "b", "everywhere"])["intents"]
    assert rows[0]["mean_present"] == pytest.approx(14 / 3) and rows[0]["mean_absent"] == pytest.approx(4 / 3)
    assert rows[0]["difference"]["value"] == pytest.approx(10 / 3)
    test_a = stats.mannwhitneyu(ratings[:3], ratings[3:], alternative="two-sided")
    test_b = stats.mannwhitneyu(ratings[[0, 2, 4]], ratings[[1, 3, 5]], alternative="two-sided")
    assert rows[0]["mann_whitney_u"] == test_a.statistic and rows[0]["p_value"] == pytest.approx(test_a.pvalue)
    assert [rows[0]["p_holm"], rows[1]["p_holm"]] == pytest.approx(holm([test_a.pvalue, test_b.pvalue]))
    assert rows[2]["n_absent"] == 0 and rows[2]["difference"]["value"] is None and rows[2]["p_holm"] is None


def test_midranks_of_a_resample_equal_scipy_ranks_of_the_resampled_values():
    values = np.array([3.0, 1, 3, 2, 5])
    weights = np.array([[2.0, 0, 1, 3, 1]])
    resampled = np.repeat(values, weights[0].astype(int))
    expected = dict(zip(resampled, stats.rankdata(resampled)))
    got = midranks(values, weights)[0]
    assert [got[i] for i in (0, 2, 3, 4)] == [expected[v] for v in values[[0, 2, 3, 4]]]


def test_weighted_statistics_equal_those_of_the_resampled_units():
    units = _units(seed=2)
    positive = (units.ratings >= 3).astype(float)
    indices = np.random.default_rng(5).integers(0, units.n_dialogues, (4, units.n_dialogues))
    weights = resample_counts(indices, units.n_dialogues)[:, units.dialogue]
    got = _statistics(units, positive, weights)
    for b in range(4):
        rows = np.repeat(np.arange(len(units.ratings)), weights[b].astype(int))
        y, metrics, length, present = units.ratings[rows], units.metrics[rows], units.length[rows], units.present[rows]
        for k in range(3):
            np.testing.assert_allclose(got[4 * k:4 * k + 4, b], _direct(y, metrics, length, positive[rows], k),
                                       atol=1e-10)
        differences = [y[present[:, i]].mean() - y[~present[:, i]].mean() for i in range(2)]
        np.testing.assert_allclose(got[-2:, b], differences, atol=1e-12)


def test_bootstrap_interval_resamples_dialogues():
    """The CI is the percentile interval of the statistic over resampled dialogues (all units of a
    dialogue drawn together), with the dialogue indices scipy draws."""
    units = _units(n_units=120, n_dialogues=30, seed=3)
    found = analyze_rating(units, ["a", "b", "c"], ["i", "j"], bootstrap=BootstrapSettings(300, 0.9, seed=4))
    n = units.n_dialogues
    indices = np.random.default_rng(4).integers(0, n, (300, n))
    pearson, difference = [], []
    for draw in indices:
        rows = np.concatenate([np.flatnonzero(units.dialogue == d) for d in draw])
        y = units.ratings[rows]
        pearson.append(stats.pearsonr(units.metrics[rows, 0], y)[0])
        inside = units.present[rows, 0]
        difference.append(y[inside].mean() - y[~inside].mean())
    entry = found["agreement"][0]["pearson"]
    assert [entry["ci_low"], entry["ci_high"]] == pytest.approx(np.quantile(pearson, [0.05, 0.95]), abs=1e-10)
    entry = found["intents"][0]["difference"]
    assert [entry["ci_low"], entry["ci_high"]] == pytest.approx(np.quantile(difference, [0.05, 0.95]), abs=1e-10)


def test_undefined_statistics_get_no_interval_and_say_why():
    units = _units(n_units=30, n_dialogues=6, seed=4)
    units = RatedUnits(units.ratings, np.column_stack([units.metrics[:, 0], np.full(30, 0.25)]), units.length,
                       np.column_stack([units.dialogue == 0, np.ones(30, dtype=bool)]), units.dialogue)
    found = analyze_rating(units, ["a", "constant"], ["rare", "everywhere"], bootstrap=BootstrapSettings(200))
    constant = found["agreement"][1]
    assert constant["pearson"] == {"value": None} and constant["spearman"] == {"value": None}
    rare = found["intents"][0]["difference"]
    assert rare["value"] is not None and rare["ci_low"] is None and "no CI: undefined in" in rare["ci_note"]
    assert "resamples of dialogues" in rare["ci_note"]                 # why, in words
    assert found["intents"][1]["difference"] == {"value": None}
    assert any("only 6 rated dialogue(s)" in w and "unreliable" in w for w in found["warnings"])


def test_results_do_not_depend_on_unit_order_within_dialogues():
    units = _units(seed=6)
    order = np.lexsort((np.random.default_rng(0).random(len(units.ratings)), units.dialogue))
    shuffled = RatedUnits(units.ratings[order], units.metrics[order], units.length[order], units.present[order],
                          units.dialogue[order])
    settings = BootstrapSettings(200)
    first = analyze_rating(units, ["a", "b", "c"], ["i", "j"], bootstrap=settings)
    second = analyze_rating(shuffled, ["a", "b", "c"], ["i", "j"], bootstrap=settings)
    for one, two in zip(first["agreement"], second["agreement"]):
        for stat in ("pearson", "spearman", "auc"):
            assert one[stat]["value"] == pytest.approx(two[stat]["value"])
            assert one[stat]["ci_low"] == pytest.approx(two[stat]["ci_low"])


def test_default_split_binary_on_its_two_values_ordinal_closest_to_half():
    from empathy_metric.reporting.analysis import default_high
    assert default_high(np.array([0, 0, 0, 1, 0, 0])) == 1           # 0/1: high = 1, whatever the median
    assert default_high(np.array([1.0, 1.0, 1.0])) == 1.0              # one value: no split (warned)
    # a 1..5 rating where the median (2) would call 27 of 30 high: split at 3 (15 of 30)
    skewed = np.array([1] * 3 + [2] * 13 + [3] * 4 + [4] * 5 + [5] * 5)
    assert np.median(skewed) == 2 and (skewed >= 2).sum() == 27
    assert default_high(skewed) == 3 and (skewed >= 3).sum() == 14
    # most units at the top of the scale: high = the top (as the paper's "high" = 5)
    assert default_high(np.array([3] * 10 + [4] * 20 + [5] * 45)) == 5


def test_binary_rating_gets_a_roc_auc_with_a_bootstrap_ci():
    units = _units(n_units=200, n_dialogues=40, seed=5)
    binary = (units.ratings >= np.median(units.ratings)).astype(np.float64)
    units = RatedUnits(binary, units.metrics, units.length, units.present, units.dialogue)
    found = analyze_rating(units, [f"m{k}" for k in range(units.metrics.shape[1])],
                           [f"i{k}" for k in range(units.present.shape[1])], bootstrap=BootstrapSettings(300))
    assert found["high"] == 1.0 and found["n_high"] == int(binary.sum())
    assert not any("no ROC-AUC" in w for w in found["warnings"])
    auc = found["agreement"][0]["auc"]
    assert auc["ci_low"] <= auc["value"] <= auc["ci_high"]
