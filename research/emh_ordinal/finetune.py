"""Issue 36, item 3: an ordinal EMH head trained *with* the encoder, under the paper's dialogue-level
CV, against the shipped design (one softmax head per mechanism), on the first folds.

Every arm is the product's encoder recipe (`minilm-empathy-v4`: target+context pooling, rationale
loss 0.5) on EMH alone (two epochs, the best kept on validation), the same seed and the same folds (`cv_fold_splits`, k = 5); only the three EMH
heads differ:
- `softmax`: the shipped linear head, three logits;
- `cumulative`: a cumulative link (proportional odds) head, one score s and two ordered cut points,
  P(level <= k) = sigmoid(c_k - s): rank-consistent by construction (CORAL's idea, one weight vector);
- `corn`: CORN's conditional head, P(level > 0) = sigmoid(a), P(level > 1 | level > 0) = sigmoid(b).
The ordinal heads output log-probabilities of the three levels, so the product's cross-entropy *is*
their likelihood (for CORN exactly its two conditional binary losses) and they would export as they
are (softmax of log-probabilities gives the probabilities back). Calibration is the product's prior
rule, fitted on each fold's validation split; uncalibrated figures are reported too.

    PYTHONPATH=$PWD python research/emh_ordinal/finetune.py --data ../shared/data --folds 1 2 \
        --arms softmax cumulative corn -o /work/runs/emh_ordinal.json
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch
from sklearn.metrics import f1_score
from torch import nn
from torch.nn.functional import logsigmoid, softplus

from empathy_metric.training.calibration import apply_bias
from empathy_metric.training.config import load_recipe, recipe_factory
from empathy_metric.training.heldout_scores import calibration_offsets, validation_score
from empathy_metric.training.splits import cv_fold_splits, cv_windows

EMH = ("emh_emotional_reactions", "emh_interpretations", "emh_explorations")
WEAK = 1


class CumulativeLink(nn.Module):
    """log P(level) for none/weak/strong from one score and two ordered cut points."""

    def __init__(self, features: int, shares: np.ndarray):
        super().__init__()
        self.score = nn.Linear(features, 1)
        # cut points start at the training shares' cumulative logits: at the head's learning rate they
        # move too little to find them (started at 0 and 1.3, "weak" was never predicted)
        cuts = np.log(np.cumsum(shares)[:2] / (1 - np.cumsum(shares)[:2]))
        self.first_cut = nn.Parameter(torch.tensor([cuts[0]], dtype=torch.float32))
        gap = float(cuts[1] - cuts[0])                    # softplus keeps the second cut above the first
        self.gap = nn.Parameter(torch.tensor([gap + np.log(-np.expm1(-gap))], dtype=torch.float32))

    def forward(self, x):
        s = self.score(x)
        width = softplus(self.gap)
        low, high = self.first_cut - s, self.first_cut + width - s
        # P(weak) = sigmoid(high) - sigmoid(low) = sigmoid(high) * sigmoid(-low) * (1 - exp(-width)):
        # the difference itself underflows to 0 for scores far out, and log(0) trains to NaN
        weak = logsigmoid(high) + logsigmoid(-low) + torch.log(-torch.expm1(-width))
        return torch.cat([logsigmoid(low), weak, logsigmoid(-high)], dim=-1)


class Corn(nn.Module):
    """log P(level) for none/weak/strong from two conditional binary logits (Shi et al. 2021)."""

    def __init__(self, features: int, shares: np.ndarray):
        super().__init__()
        self.logits = nn.Linear(features, 2)

    def forward(self, x):
        a, b = self.logits(x).unbind(-1)
        above_none = logsigmoid(a)
        return torch.stack([logsigmoid(-a), above_none + logsigmoid(-b), above_none + logsigmoid(b)], dim=-1)


ARMS = {"softmax": None, "cumulative": CumulativeLink, "corn": Corn}


def make_arm(make, arm: str, train):
    recipe = make()
    head = ARMS[arm]
    if head is not None:
        for name in EMH:
            counts = np.bincount([x.labels[name] for x in train if name in x.labels], minlength=3)
            recipe.model.heads[name] = head(recipe.model.heads[name].in_features, counts / counts.sum())
    return recipe


def scores(logits: np.ndarray, gold: np.ndarray) -> dict:
    pred = logits.argmax(-1)
    per_level = f1_score(gold, pred, labels=[0, 1, 2], average=None, zero_division=0)
    return {"macro_f1": float(per_level.mean()), "weak_f1": float(per_level[WEAK]),
            "weak_predicted": int((pred == WEAK).sum()), "weak_gold": int((gold == WEAK).sum())}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", default="../shared/data")
    parser.add_argument("--folds", type=int, nargs="+", default=[1, 2], help="1..5")
    parser.add_argument("--arms", nargs="+", default=list(ARMS), choices=list(ARMS))
    parser.add_argument("--epochs", type=int, default=2, help="EMH alone is small: v4's one epoch is ~275 steps")
    parser.add_argument("--max-steps", type=int, default=0, help="smoke test")
    parser.add_argument("-o", "--out", type=Path, required=True)
    args = parser.parse_args()
    recipe_values = load_recipe("minilm-empathy-v4", [f"epochs={args.epochs}"], data_sets=["emh"], max_steps=args.max_steps or None)
    make, settings = recipe_factory(recipe_values, print)
    labelled = cv_windows(args.data, settings, ["emh"], print)
    rows = []
    for fold, train, valid, test in cv_fold_splits(labelled, 5):
        if fold + 1 not in args.folds:
            continue
        for arm in args.arms:
            started = time.time()
            recipe = make_arm(make, arm, train)
            recipe.fit(train, valid, validation_score(recipe.tasks))
            bias = calibration_offsets(recipe, recipe_values["calibration"], train, valid)
            outputs = recipe.predict([x.window for x in test])
            logits = {t: outputs[f"logits.{t}"] for t in EMH}
            calibrated = apply_bias(logits, bias)
            for task in EMH:
                have = [i for i, x in enumerate(test) if task in x.labels]
                gold = np.array([test[i].labels[task] for i in have])
                rows.append({"fold": fold + 1, "arm": arm, "task": task,
                             "calibrated": scores(calibrated[task][have], gold),
                             "uncalibrated": scores(logits[task][have], gold),
                             "groups": [test[i].group for i in have], "gold": gold.tolist(),
                             "pred": calibrated[task][have].argmax(-1).tolist()})
                print(f"fold {fold + 1} {arm:10s} {task:24s} {rows[-1]['calibrated']}", flush=True)
            print(f"fold {fold + 1} {arm}: {time.time() - started:.0f} s", flush=True)
            args.out.write_text(json.dumps(rows))      # after each arm: a stopped run keeps what it did


if __name__ == "__main__":
    main()
