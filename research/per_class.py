"""Where does a fold checkpoint miss? Per-class F1, the confusion matrix and the median class probabilities
of each task on its fold's test part, as `cv` splits it; argmax of the trained logits (calibration
offsets taken out first).

  per_class.py DIR --fold 1      DIR: a `cv --save-folds DIR` folder (fold 1 = DIR/fold-0)
"""
from __future__ import annotations

import argparse

import numpy as np
from scipy.special import softmax
from sklearn.metrics import confusion_matrix, f1_score

from empathy_metric.training.encoder_recipe import EncoderRecipe
from empathy_metric.training.experiment import cv_fold_splits, cv_windows, sources_of


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folds_dir")
    parser.add_argument("--fold", type=int, default=1, help="1..k")
    parser.add_argument("--data", default="../shared/data")
    parser.add_argument("-k", type=int, default=5)
    parser.add_argument("--seed", type=int, default=2026)
    args = parser.parse_args()
    recipe = EncoderRecipe.averaged([f"{args.folds_dir}/fold-{args.fold - 1}"], log=lambda *_: None)
    labelled = cv_windows(args.data, recipe.settings, sources_of(t.name for t in recipe.tasks))
    test = next(test for fold, _, _, test in cv_fold_splits(labelled, args.k, args.seed) if fold == args.fold - 1)
    outputs = recipe.predict([x.window for x in test])
    for task in recipe.tasks:
        gold = np.array([x.labels.get(task.name, -1) for x in test])
        keep = gold >= 0
        pred = outputs[f"logits.{task.name}"][keep].argmax(-1)
        classes = list(range(len(task.labels)))
        f1 = f1_score(gold[keep], pred, labels=classes, average=None, zero_division=0)
        print(f"{task.name} (n={keep.sum()}): " + ", ".join(f"{label} {v * 100:.1f}" for label, v in zip(task.labels, f1)))
        print("  confusion (rows gold, columns predicted, in the order above):")
        for row in confusion_matrix(gold[keep], pred, labels=classes):
            print("   ", " ".join(f"{v:5d}" for v in row))
        # a rare class that is never predicted: is it ranked higher for its own pairs at least?
        probs = softmax(outputs[f"logits.{task.name}"][keep], axis=-1)
        print("  median probability of each class (columns) given the gold class (rows):")
        for c in classes:
            print("   ", " ".join(f"{v:5.3f}" for v in np.median(probs[gold[keep] == c], axis=0)))


if __name__ == "__main__":
    main()
