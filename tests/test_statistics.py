"""Bootstrap CIs over dialogues: equal to scipy's own bootstrap of column means, reproducible,
order-independent, and degenerate inputs handled."""
import numpy as np
import pytest
from scipy import stats

from empathy_metric.reporting.statistics import BootstrapSettings, mean_intervals
from empathy_metric.reporting.summary import DialogueRow, corpus_table

pytestmark = pytest.mark.scoring


def _values(n=60, seed=3):
    rng = np.random.default_rng(seed)
    return np.column_stack([rng.random(n), rng.random(n) > 0.7, rng.normal(2.0, 0.5, n)]).astype(float)


@pytest.mark.parametrize("method", ["percentile", "BCa"])
def test_matches_scipy_bootstrap_of_the_raw_columns(method):
    values = _values()
    settings = BootstrapSettings(n_resamples=999, confidence=0.9, seed=7, method=method)
    got = mean_intervals(values, settings)
    direct = stats.bootstrap((values,), np.mean, axis=0, vectorized=True, n_resamples=999,
                             confidence_level=0.9, method=method, rng=np.random.default_rng(7))
    np.testing.assert_allclose(got.low, direct.confidence_interval.low, rtol=0, atol=1e-12)
    np.testing.assert_allclose(got.high, direct.confidence_interval.high, rtol=0, atol=1e-12)
    np.testing.assert_allclose(got.mean, values.mean(axis=0))


def test_percentile_interval_is_the_quantile_of_resampled_means():
    """A direct computation: draw the same dialogue indices scipy draws, take quantiles by hand."""
    values = _values(n=40)
    got = mean_intervals(values, BootstrapSettings(n_resamples=500, confidence=0.95, seed=11))
    indices = np.random.default_rng(11).integers(0, 40, (500, 40))
    means = values[indices].mean(axis=1)                          # (resamples, metrics)
    np.testing.assert_allclose(got.low, np.quantile(means, 0.025, axis=0), atol=1e-12)
    np.testing.assert_allclose(got.high, np.quantile(means, 0.975, axis=0), atol=1e-12)


def test_interval_covers_the_mean_and_shrinks_with_n():
    rng = np.random.default_rng(0)
    small = mean_intervals(rng.normal(0, 1, (50, 1)), BootstrapSettings(seed=1))
    large = mean_intervals(rng.normal(0, 1, (5000, 1)), BootstrapSettings(seed=1))
    assert small.low[0] < small.mean[0] < small.high[0]
    assert (large.high - large.low)[0] < (small.high - small.low)[0] / 5
    # ~ 2 * 1.96 / sqrt(5000) for a standard normal
    assert abs((large.high - large.low)[0] - 2 * 1.96 / np.sqrt(5000)) < 0.01


def test_reproducible_with_a_seed_and_different_with_another():
    values = _values()
    a = mean_intervals(values, BootstrapSettings(seed=5))
    b = mean_intervals(values, BootstrapSettings(seed=5))
    c = mean_intervals(values, BootstrapSettings(seed=6))
    assert np.array_equal(a.low, b.low) and np.array_equal(a.high, b.high)
    assert not np.array_equal(a.low, c.low)


def test_one_dialogue_and_constant_metrics_do_not_crash():
    one = mean_intervals(np.array([[0.4, 1.0]]), BootstrapSettings())
    assert one.low.tolist() == one.high.tolist() == [0.4, 1.0]
    assert one.notes == ["one dialogue: no interval"] * 2
    values = np.column_stack([np.full(30, 0.25), np.linspace(0, 1, 30)])
    for method in ("percentile", "BCa"):
        result = mean_intervals(values, BootstrapSettings(method=method))
        assert result.low[0] == result.high[0] == 0.25 and result.notes[0] == "constant over dialogues"
        assert result.low[1] < result.high[1] and result.notes[1] is None


def test_a_column_gets_the_same_interval_whatever_the_other_columns():
    values = _values()
    alone = mean_intervals(values[:, :1], BootstrapSettings(seed=2))
    together = mean_intervals(np.column_stack([values[:, :1], np.zeros(len(values)), values[:, 1:]]),
                              BootstrapSettings(seed=2))
    # same resampled dialogues; only the matrix product's rounding may differ
    assert alone.low[0] == pytest.approx(together.low[0], abs=1e-12)
    assert alone.high[0] == pytest.approx(together.high[0], abs=1e-12)


def test_corpus_table_records_counts_and_ignores_row_order():
    rng = np.random.default_rng(1)
    rows = [DialogueRow(f"d{i:03d}", int(rng.integers(1, 6)), {"a": float(rng.random()), "b": 0.5})
            for i in range(25)]
    settings = BootstrapSettings(n_resamples=300, seed=0)
    table = corpus_table(rows, settings)
    shuffled = corpus_table(list(reversed(rows)), settings)
    assert table == shuffled
    assert table["a"]["n_dialogues"] == 25 and table["a"]["n_turns"] == sum(r.n_turns for r in rows)
    assert table["a"]["ci_low"] < table["a"]["mean"] < table["a"]["ci_high"]
    assert table["b"]["ci_low"] == table["b"]["ci_high"] == 0.5 and "ci_note" in table["b"]
    assert "ci_low" not in corpus_table(rows)         # no bootstrap, no interval
