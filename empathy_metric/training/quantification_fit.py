"""Fitting the rate estimators of quantification.py on held-back logits with gold labels."""
from __future__ import annotations

import numpy as np
from scipy.optimize import minimize
from scipy.special import log_softmax

from ..pipeline.quantification import TaskQuantifier


def fit_vector_scaling(logits: np.ndarray, gold: np.ndarray, l2: float = 1e-3) -> TaskQuantifier:
    """Scale and bias per class minimising the negative log-likelihood of `gold` (a small L2 pull
    towards scale 1, bias 0 keeps classes that are rare in the split from running off)."""
    k = logits.shape[1]
    onehot = np.eye(k)[gold]

    def loss(params):
        scale, bias = params[:k], params[k:]
        z = logits * scale + bias
        logp = log_softmax(z, axis=1)
        probs = np.exp(logp)
        nll = -(onehot * logp).sum() / len(gold)
        penalty = l2 * (((scale - 1) ** 2).sum() + (bias ** 2).sum())
        grad_z = (probs - onehot) / len(gold)
        grad = np.concatenate([(grad_z * logits).sum(0) + 2 * l2 * (scale - 1), grad_z.sum(0) + 2 * l2 * bias])
        return nll + penalty, grad

    start = np.concatenate([np.ones(k), np.zeros(k)])
    result = minimize(loss, start, jac=True, method="L-BFGS-B")
    return TaskQuantifier("pcc", tuple(map(float, result.x[:k])), tuple(map(float, result.x[k:])))


def fit_confusion(logits: np.ndarray, gold: np.ndarray, smoothing: float = 0.5) -> TaskQuantifier:
    """ACC's M[i, j] = P(predicted j | true i), with add-`smoothing` counts so no row is empty."""
    k = logits.shape[1]
    counts = np.full((k, k), smoothing)
    np.add.at(counts, (gold, logits.argmax(1)), 1.0)
    confusion = counts / counts.sum(1, keepdims=True)
    return TaskQuantifier("acc", confusion=tuple(tuple(map(float, row)) for row in confusion))
