"""A uniform soup of perceived stacks trained from the same start with other seeds (stack_train.py):
their weights averaged. Scored like stack_train.py (validation r for the choice, dev reported with its
CI and the paired difference against the shipped score); the ensemble of the runs' scores alongside.

    PYTHONPATH=$PWD python research/perceived/stack_soup.py /work/runs/perceived-stack/cache --branch 3 \
        RUN/epoch3.pt RUN2/epoch3.pt RUN3/epoch3.pt -o /work/runs/perceived-stack/soup
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import torch

from empathy_metric.training.data import group_fraction
from empathy_metric.training.perceived_validity import pearson

sys.path.insert(0, str(Path(__file__).resolve().parent))
from stack_train import VALID_FRACTION, VALID_SEED, Cache, dev_report, load_stack, predict  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("cache", type=Path)
    parser.add_argument("checkpoints", nargs="+", type=Path)
    parser.add_argument("--branch", type=int, required=True)
    parser.add_argument("-o", "--output", required=True, type=Path)
    parser.add_argument("--data", type=Path, default=Path("../shared/data"))
    args = parser.parse_args()
    torch.set_num_threads(2)
    train, dev = Cache(args.cache, "train", args.branch), Cache(args.cache, "dev", args.branch)
    valid_rows = np.flatnonzero([group_fraction(str(g), VALID_SEED) < VALID_FRACTION for g in train.meta["group"]])
    dev_rows = np.arange(len(dev.meta["lengths"]))
    states = [torch.load(c) for c in args.checkpoints]
    soup = {k: sum(s[k] for s in states) / len(states) for k in states[0]}
    result = {"checkpoints": [str(c) for c in args.checkpoints]}
    valid_truth = train.meta["labels"][valid_rows, 0]
    members = [load_stack(s, args.branch) for s in states]
    valid_scores = [predict(m, train, valid_rows) for m in members]
    dev_scores = [predict(m, dev, dev_rows) for m in members]
    result["members_r_valid"] = [pearson(s, valid_truth) for s in valid_scores]
    result["ensemble_r_valid"] = pearson(np.mean(valid_scores, 0), valid_truth)
    soup_model = load_stack(soup, args.branch)
    result["soup_r_valid"] = pearson(predict(soup_model, train, valid_rows), valid_truth)
    result["ensemble_dev"] = dev_report(np.mean(dev_scores, 0), dev, args.data)
    result["soup_dev"] = dev_report(predict(soup_model, dev, dev_rows), dev, args.data)
    args.output.mkdir(parents=True, exist_ok=True)
    torch.save(soup, args.output / "soup.pt")
    (args.output / "report.json").write_text(json.dumps(result, indent=1))
    print(json.dumps({k: v for k, v in result.items() if not k.endswith("_dev")}))
    for k in ("ensemble_dev", "soup_dev"):
        d = result[k]
        print(k, round(d["stack"]["raw"], 4), [round(x, 4) for x in d["stack"]["raw_ci"]],
              "minus shipped", round(d["minus_shipped"], 4), [round(x, 4) for x in d["minus_shipped_ci"]])


if __name__ == "__main__":
    main()
