"""Training pairs and the loss of seq2seq rank classification.

Every (labelled window, prompt) pair with a gold answer is one example. The loss works on the
rank-classification logits (summed verbaliser log-likelihoods):
- task and yes/no label prompts: TaskLoss (ce / focal / ldam), class counts per prompt;
- perceived prompts: soft binary cross-entropy between P(yes) = sigmoid(s_yes - s_no) and the
  0..1 survey target. A soft target keeps the graded survey signal (4/5 is not 1/5) with the
  same yes/no verbalisers as every other prompt, so one decoder step still gives the score.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ...runtime.seq2seq.plan import PromptPlan
from ...schemas import PERCEIVED_DIMENSIONS
from ..data import LabelledWindow


@dataclass(frozen=True)
class TrainingPair:
    window: int          # index into the labelled windows
    prompt: int
    target: float        # class index, or the 0..1 target of a perceived prompt
    source: str          # "esconv" | "emh"


def training_pairs(labelled: list[LabelledWindow], plan: PromptPlan) -> list[TrainingPair]:
    pairs = []
    for i, lw in enumerate(labelled):
        for j, p in enumerate(plan.prompts):
            if p.kind == "perceived":
                if p.output not in PERCEIVED_DIMENSIONS:
                    continue
                value = float(lw.perceived[PERCEIVED_DIMENSIONS.index(p.output)])
                if not np.isnan(value):
                    pairs.append(TrainingPair(i, j, value, lw.source))
            elif p.output in lw.labels:
                gold = lw.labels[p.output]
                target = gold if p.kind == "task" else int(gold == p.label)
                pairs.append(TrainingPair(i, j, float(target), lw.source))
    return pairs


def prompt_class_counts(pairs: list[TrainingPair], plan: PromptPlan) -> dict[int, list[int]]:
    counts = {j: [0] * len(p.verbalisers) for j, p in enumerate(plan.prompts) if p.kind != "perceived"}
    for pair in pairs:
        if pair.prompt in counts:
            counts[pair.prompt][int(pair.target)] += 1
    return counts


def batch_loss(scores, batch: list[TrainingPair], plan: PromptPlan, losses: dict, perceived_weight: float):
    """Mean over the batch's pairs: each prompt's loss weighted by its number of pairs."""
    import torch
    import torch.nn.functional as F
    device = scores.device
    prompts = np.array([p.prompt for p in batch])
    targets = torch.tensor([p.target for p in batch], dtype=torch.float32, device=device)
    total = torch.zeros((), device=device)
    for j in np.unique(prompts):
        rows = torch.from_numpy(np.flatnonzero(prompts == j)).to(device)
        prompt = plan.prompts[j]
        if prompt.kind == "perceived":
            margin = scores[rows, 1] - scores[rows, 0]
            loss = perceived_weight * F.binary_cross_entropy_with_logits(margin, targets[rows])
        else:
            loss = losses[j](scores[rows, :len(prompt.verbalisers)], targets[rows].long())
        total = total + loss * len(rows)
    return total / len(batch)
