"""Label rates that estimate the true share of each label (quantification), not the share of argmax
labels (classify and count, biased whenever the classifier's errors are not symmetric).

Two estimators, chosen per task by measurement (the task's `rates` in the bundle manifest):
- "pcc", probabilistic classify and count: the rate of a label is the mean of its *calibrated*
  probability; the calibration is vector scaling (a scale and a bias per class on the logits, Guo et
  al. 2017), fitted on the validation split by negative log-likelihood;
- "acc", adjusted classify and count: with M[i, j] = P(predicted j | true i) estimated on held-back
  data, the observed argmax shares q satisfy q = M^T p; p = (M^T)^-1 q. The adjustment is linear, so
  the mean over dialogues of adjusted rates is the adjusted corpus rate; one dialogue's value may fall
  outside [0, 1] (it is an estimate, unbiased only on average).
Per-turn labels stay argmax of the model's logits (its decision rule); only rates change.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

ESTIMATORS = ("cc", "pcc", "acc")


def softmax(logits: np.ndarray) -> np.ndarray:
    shifted = logits - logits.max(axis=-1, keepdims=True)
    exp = np.exp(shifted)
    return exp / exp.sum(axis=-1, keepdims=True)


@dataclass(frozen=True)
class TaskQuantifier:
    """How one task's rates are estimated from its logits [n, classes]."""
    estimator: str = "cc"
    scale: tuple[float, ...] = ()              # pcc: vector scaling
    bias: tuple[float, ...] = ()
    confusion: tuple[tuple[float, ...], ...] = ()    # acc: rows = true class, P(predicted | true)

    def probabilities(self, logits: np.ndarray) -> np.ndarray:
        """Per-turn class probabilities: calibrated under pcc, the plain softmax otherwise."""
        if self.estimator == "pcc":
            return softmax(logits * np.asarray(self.scale) + np.asarray(self.bias))
        return softmax(logits)

    def turn_weights(self, logits: np.ndarray) -> np.ndarray:
        """[n, classes]: what each turn adds to each label's rate (rates are their dialogue mean)."""
        if self.estimator == "pcc":
            return self.probabilities(logits)
        return self.label_weights(logits.argmax(-1), logits.shape[-1])

    def label_weights(self, labels: np.ndarray, n_classes: int) -> np.ndarray:
        """cc and acc from argmax labels alone (class indices [n])."""
        onehot = np.eye(n_classes)[labels]
        if self.estimator == "acc":
            return onehot @ np.linalg.inv(np.asarray(self.confusion))     # q^T M^-1 = p^T
        return onehot

    def to_dict(self) -> dict:
        found: dict = {"estimator": self.estimator}
        if self.estimator == "pcc":
            found.update(scale=list(self.scale), bias=list(self.bias))
        if self.estimator == "acc":
            found["confusion"] = [list(row) for row in self.confusion]
        return found

    @classmethod
    def from_dict(cls, data: dict, n_labels: int) -> "TaskQuantifier":
        estimator = data.get("estimator", "cc")
        if estimator not in ESTIMATORS:
            raise ValueError(f"unknown rate estimator {estimator!r} (known: {', '.join(ESTIMATORS)})")
        quantifier = cls(estimator, tuple(map(float, data.get("scale", ()))), tuple(map(float, data.get("bias", ()))),
                         tuple(tuple(map(float, row)) for row in data.get("confusion", ())))
        sizes = {"pcc": (len(quantifier.scale), len(quantifier.bias)),
                 "acc": (len(quantifier.confusion), *(len(r) for r in quantifier.confusion))}.get(estimator, ())
        if any(size != n_labels for size in sizes):
            raise ValueError(f"{estimator} parameters do not match the task's {n_labels} labels")
        return quantifier


def quantifier(task) -> TaskQuantifier:
    """The rate estimator of a schemas.Task (classify and count when it names none)."""
    return TaskQuantifier.from_dict(task.rates, len(task.labels)) if task.rates else TaskQuantifier()


def adjusted_rates(predicted_shares: np.ndarray, confusion: np.ndarray) -> np.ndarray:
    """ACC: the true shares p with confusion^T p = predicted shares (rows of `predicted_shares`)."""
    return predicted_shares @ np.linalg.inv(np.asarray(confusion))
