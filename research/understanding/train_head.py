"""Train the `perceived.understanding` head on frozen features (features.py, split train).

    PYTHONPATH=$PWD nice -n 10 python research/understanding/train_head.py \
        /work/runs/generic/features-train.npz -o /work/runs/generic/head.npz

The head: standardise x = [target, context, target * context] (the pooled reply and the pooled
context of the shipped int8 graph, 3 x 384), one hidden ReLU layer, a sigmoid: the probability that
this reply is the real one for this context rather than a generic line or a reply from elsewhere.
Trained with binary cross-entropy, real replies weighted to balance the negatives, Adam with weight
decay; the epoch count is picked on 10% of the training groups (by dialogue / seeker post), then the
head is refit on all of them. Deterministic (fixed seed, one thread).
"""
from __future__ import annotations

import argparse
import hashlib

import numpy as np
import torch

HIDDEN = 64
SEED = 37


def features(data) -> np.ndarray:
    t, c = data["target"].astype(np.float32), data["context"].astype(np.float32)
    return np.concatenate([t, c, t * c], axis=1)


def head_scores(weights: dict, x: np.ndarray) -> np.ndarray:
    """The head in numpy (float32), as the ONNX nodes compute it."""
    z = (x.astype(np.float32) - weights["mean"]) / weights["scale"]
    h = np.maximum(z @ weights["w1"] + weights["b1"], 0)
    logit = h @ weights["w2"] + weights["b2"]
    return (1 / (1 + np.exp(-logit)))[:, 0]


def fit(x, y, epochs: int, lr: float, decay: float, valid=None):
    torch.manual_seed(SEED)
    mean, scale = x.mean(0), x.std(0) + 1e-6
    xs = torch.tensor((x - mean) / scale)
    ys = torch.tensor(y, dtype=torch.float32)
    model = torch.nn.Sequential(torch.nn.Linear(x.shape[1], HIDDEN), torch.nn.ReLU(), torch.nn.Dropout(0.2),
                                torch.nn.Linear(HIDDEN, 1))
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=decay)
    positive_weight = torch.tensor((y == 0).sum() / max((y == 1).sum(), 1), dtype=torch.float32)
    loss_fn = torch.nn.BCEWithLogitsLoss(pos_weight=positive_weight)
    generator = torch.Generator().manual_seed(SEED)
    history = []
    for epoch in range(epochs):
        model.train()
        for batch in torch.randperm(len(xs), generator=generator).split(256):
            optimizer.zero_grad()
            loss = loss_fn(model(xs[batch])[:, 0], ys[batch])
            loss.backward()
            optimizer.step()
        if valid is not None:
            weights = export(model, mean, scale)
            history.append(auc(valid[1], head_scores(weights, valid[0])))
    return export(model, mean, scale), history


def export(model, mean, scale) -> dict:
    first, last = model[0], model[3]
    return {"mean": mean.astype(np.float32), "scale": scale.astype(np.float32),
            "w1": first.weight.detach().numpy().T.copy(), "b1": first.bias.detach().numpy().copy(),
            "w2": last.weight.detach().numpy().T.copy(), "b2": last.bias.detach().numpy().copy()}


def auc(y, s) -> float:
    from sklearn.metrics import roc_auc_score
    return float(roc_auc_score(y, s))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("train", help="features.py --split train output")
    parser.add_argument("-o", "--output", required=True)
    parser.add_argument("--max-epochs", type=int, default=30)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--weight-decay", type=float, default=1e-2)
    args = parser.parse_args()
    torch.set_num_threads(1)
    data = np.load(args.train)
    x, y = features(data), data["label"].astype(np.int64)
    groups = data["group"]
    held = np.array([int(hashlib.sha256(f"{SEED}:{g}".encode()).hexdigest()[:8], 16) / 16 ** 8 < 0.1
                     for g in groups])
    _, history = fit(x[~held], y[~held], args.max_epochs, args.lr, args.weight_decay, (x[held], y[held]))
    best = int(np.argmax(history)) + 1
    print("validation ROC-AUC by epoch:", " ".join(f"{a:.4f}" for a in history))
    print(f"best epoch {best} (AUC {history[best - 1]:.4f} on {held.sum()} windows of held training groups)")
    weights, _ = fit(x[~held], y[~held], best, args.lr, args.weight_decay)
    for kind in sorted(set(data["kind"]) - {"real"}):
        rows = held & np.isin(data["kind"], ["real", kind])
        print(f"  real vs {kind}: AUC {auc(y[rows], head_scores(weights, x[rows])):.4f}")
    weights, _ = fit(x, y, best, args.lr, args.weight_decay)
    np.savez(args.output, **weights, epochs=best, hidden=HIDDEN, lr=args.lr, weight_decay=args.weight_decay)
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
