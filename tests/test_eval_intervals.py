"""Bootstrap CIs of a data set's mean macro-F1, resampling dialogues (empathy-score eval)."""
import numpy as np

from empathy_metric.reporting.statistics import BootstrapSettings
from empathy_metric.schemas import Task
from empathy_metric.training.evaluation import grouped_f1_intervals

LEVELS = Task(name="level", labels=["none", "weak", "strong"], ordinal=True)
GROUPS = {"Levels": ["level"]}


def _data(dialogues: int, accuracy: float, seed: int = 0):
    """Three turns per dialogue; a share `accuracy` of the predictions is right."""
    rng = np.random.default_rng(seed)
    truth = rng.integers(0, 3, dialogues * 3)
    pred = np.where(rng.random(len(truth)) < accuracy, truth, (truth + 1) % 3)
    logits = {"level": np.eye(3)[pred]}
    gold = [{"level": int(t)} for t in truth]
    ids = [f"d{i // 3}" for i in range(len(truth))]
    return logits, gold, ids


def _interval(dialogues, accuracy, seed=0):
    logits, gold, ids = _data(dialogues, accuracy, seed)
    return grouped_f1_intervals([LEVELS], logits, gold, ids, GROUPS, BootstrapSettings(n_resamples=300))["Levels"]


def test_perfect_predictions_have_a_point_interval():
    ci = _interval(20, accuracy=1.0)
    assert ci["low"] == ci["high"] == 1.0 and ci["n_dialogues"] == 20


def test_interval_holds_the_estimate_and_narrows_with_more_dialogues():
    from sklearn.metrics import f1_score
    logits, gold, _ = _data(40, accuracy=0.7)
    f1 = f1_score([g["level"] for g in gold], logits["level"].argmax(1), average="macro")
    small, large = _interval(40, 0.7), _interval(640, 0.7)
    assert small["low"] < f1 < small["high"]
    assert (large["high"] - large["low"]) < 0.5 * (small["high"] - small["low"])   # ~1/sqrt(16)


def test_the_resampled_unit_is_the_dialogue():
    """Turns of one dialogue are all right or all wrong. Resampled as 10 dialogues they move
    together, so the interval is wider than for the same 30 turns taken as independent units."""
    truth = np.tile([0, 1, 2], 10)
    right = np.repeat(np.arange(10) < 6, 3)
    logits = {"level": np.eye(3)[np.where(right, truth, (truth + 1) % 3)]}
    gold = [{"level": int(t)} for t in truth]
    settings = BootstrapSettings(n_resamples=500)
    by_dialogue = grouped_f1_intervals([LEVELS], logits, gold, [f"d{i // 3}" for i in range(30)], GROUPS,
                                       settings)["Levels"]
    by_turn = grouped_f1_intervals([LEVELS], logits, gold, [str(i) for i in range(30)], GROUPS, settings)["Levels"]
    assert by_dialogue["n_dialogues"] == 10 and by_turn["n_dialogues"] == 30
    assert (by_dialogue["high"] - by_dialogue["low"]) > 1.3 * (by_turn["high"] - by_turn["low"])
