"""Rate estimators on synthetic data whose true rates and confusion matrix are known."""
import numpy as np

from empathy_metric.pipeline.quantification import TaskQuantifier, adjusted_rates
from empathy_metric.training.quantification_fit import fit_confusion, fit_vector_scaling


def _confused(true_labels, confusion, rng):
    return np.array([rng.choice(len(confusion), p=confusion[t]) for t in true_labels])


def test_acc_recovers_true_rates_from_a_known_confusion_matrix():
    rng = np.random.default_rng(0)
    confusion = np.array([[0.8, 0.15, 0.05], [0.3, 0.6, 0.1], [0.1, 0.2, 0.7]])
    true_rates = np.array([0.2, 0.5, 0.3])
    truth = rng.choice(3, size=20000, p=true_rates)
    predicted = _confused(truth, confusion, rng)
    shares = np.bincount(predicted, minlength=3) / len(predicted)
    assert np.abs(shares - true_rates).max() > 0.1                    # classify and count is biased
    assert np.abs(adjusted_rates(shares, confusion) - true_rates).max() < 0.01
    logits = np.eye(3)[predicted] * 5.0
    quantifier = TaskQuantifier("acc", confusion=tuple(map(tuple, confusion)))
    assert np.abs(quantifier.turn_weights(logits).mean(0) - true_rates).max() < 0.01


def test_fitted_confusion_and_vector_scaling_remove_the_bias_on_a_new_sample():
    rng = np.random.default_rng(1)
    k, n = 4, 20000
    shift = np.array([1.5, 0.0, -0.5, 0.2])          # a classifier biased towards class 0

    def sample(rates):
        truth = rng.choice(k, size=n, p=rates)
        logits = 2.0 * np.eye(k)[truth] + rng.normal(0, 1.2, (n, k)) + shift
        return logits, truth

    held_logits, held_truth = sample(np.array([0.25, 0.25, 0.25, 0.25]))
    test_rates = np.array([0.25, 0.25, 0.25, 0.25])
    test_logits, _ = sample(test_rates)
    cc = TaskQuantifier().turn_weights(test_logits).mean(0)
    pcc = fit_vector_scaling(held_logits, held_truth).turn_weights(test_logits).mean(0)
    acc = fit_confusion(held_logits, held_truth).turn_weights(test_logits).mean(0)
    assert np.abs(cc - test_rates).max() > 0.1
    assert np.abs(pcc - test_rates).max() < 0.015
    assert np.abs(acc - test_rates).max() < 0.015


def test_quantifier_round_trips_through_the_manifest_form():
    q = TaskQuantifier("pcc", (1.0, 0.5), (0.1, -0.1))
    assert TaskQuantifier.from_dict(q.to_dict(), 2) == q
    try:
        TaskQuantifier.from_dict(q.to_dict(), 3)
    except ValueError as exc:
        assert "3 labels" in str(exc)
    else:
        raise AssertionError("a size mismatch must be refused")


def test_rate_validity_reports_bias_and_dialogue_r_with_cis():
    from empathy_metric.pipeline.quantification import quantifier
    from empathy_metric.reporting.statistics import BootstrapSettings
    from empathy_metric.schemas import EMH_EXPLORATIONS
    from empathy_metric.training.rate_validity import fit_rates, rate_validity
    rng = np.random.default_rng(3)
    truth = rng.choice(3, size=3000, p=[0.6, 0.1, 0.3])
    groups = [f"d{i // 10}" for i in range(len(truth))]
    logits = 3.0 * np.eye(3)[truth] + rng.normal(0, 1.0, (len(truth), 3)) + np.array([1.0, 0.0, 0.0])
    [cc] = fit_rates([EMH_EXPLORATIONS], {EMH_EXPLORATIONS.name: logits}, [{EMH_EXPLORATIONS.name: t} for t in truth], "cc")
    [pcc] = fit_rates([EMH_EXPLORATIONS], {EMH_EXPLORATIONS.name: logits}, [{EMH_EXPLORATIONS.name: t} for t in truth], "pcc")
    assert cc.rates == {} and pcc.rates["estimator"] == "pcc"
    settings = BootstrapSettings(n_resamples=200)
    biased = rate_validity(cc, logits, truth, groups, quantifier(cc), settings)
    fixed = rate_validity(pcc, logits, truth, groups, quantifier(pcc), settings)
    none = "emh_explorations.rate.none"
    assert biased[none]["bias"] > 0.02 and biased[none]["bias_ci"][0] > 0      # classify and count over-counts
    assert abs(fixed[none]["bias"]) < 0.01 and fixed[none]["bias_ci"][0] < 0 < fixed[none]["bias_ci"][1]
    assert 0.5 < fixed[none]["dialogue_r"] <= 1 and fixed[none]["n_dialogues"] == 300
    assert set(fixed) == {"emh_explorations.rate.none", "emh_explorations.rate.weak",
                          "emh_explorations.rate.strong", "emh_explorations.mean_level"}
