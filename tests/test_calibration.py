"""Calibration rules for rare classes: logit adjustment by training priors, and the free search."""
import numpy as np
import pytest

from empathy_metric.schemas import Task
from empathy_metric.training.calibration import fit_offsets, fit_prior_bias, label_counts

LEVELS = Task(name="level", labels=("none", "weak", "strong"), ordinal=True)


def test_prior_offsets_are_minus_tau_log_prior_relative_to_the_first_class():
    # Class 1 ("weak") is rare and under-predicted: its true rows have a logit just below class 0.
    truth = np.array([0] * 40 + [1] * 5 + [2] * 15)
    logits = np.zeros((60, 3))
    logits[truth == 0, 0] = 2.0
    logits[truth == 1, 0], logits[truth == 1, 1] = 1.0, 0.2
    logits[truth == 2, 2] = 2.0
    counts = {"level": [800, 40, 160]}
    bias = fit_prior_bias([LEVELS], counts, {"level": logits}, [{"level": int(t)} for t in truth])
    log_prior = np.log((np.array(counts["level"]) + 1.0) / (np.array(counts["level"]) + 1.0).sum())
    tau = bias["level"][1] / -(log_prior[1] - log_prior[0])
    assert tau in np.round(np.arange(0.25, 2.01, 0.25), 2)          # some adjustment was needed
    assert bias["level"] == pytest.approx(list(-tau * (log_prior - log_prior[0])))
    adjusted = (logits + np.array(bias["level"])).argmax(-1)
    assert (adjusted == truth).all()


def test_prior_rule_leaves_a_model_that_is_already_right_alone():
    truth = np.array([0, 1, 2] * 10)
    logits = np.eye(3)[truth] * 3.0
    bias = fit_prior_bias([LEVELS], {"level": [900, 30, 70]}, {"level": logits},
                          [{"level": int(t)} for t in truth])
    assert bias["level"] == [0.0, 0.0, 0.0]                       # ties go to tau = 0


def test_rules_share_one_entry_point():
    gold = [{"level": k % 3} for k in range(30)]
    logits = {"level": np.eye(3)[[k % 3 for k in range(30)]]}
    assert fit_offsets("none", [LEVELS], gold, logits, gold) == {}
    assert label_counts([LEVELS], gold) == {"level": [10, 10, 10]}
    assert set(fit_offsets("search", [LEVELS], gold, logits, gold)) == {"level"}
    with pytest.raises(ValueError, match="expected one of"):
        fit_offsets("magic", [LEVELS], gold, logits, gold)
