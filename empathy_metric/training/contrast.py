"""Contrastive supervision of the perceived head: the real reply must score higher than the same
context with a worse reply (off-topic, canned, curt), and appending an irrelevant sentence must not
raise its score.

Turn-level ratings alone do not teach this: a regression head can fit them from the reply's own
wording and length without reading the context, and then a reply from another conversation scores
as well as the real one. A margin ranking loss over the same context (as in learned dialogue metrics
trained with negative sampling) makes the score depend on whether the reply fits.
"""
from __future__ import annotations

import random

import torch

from ..pipeline.encoding import WindowEncoder
from .data import Example, LabelledWindow
from .perturbations import WORSE_KINDS, padded, with_target, worse_reply

CONTRAST_SOURCES = ("esconv", "wassa")
# A WASSA turn rated below this (0..1 scale: rating / 5) is no better than a canned reply: it is not
# used as the "real" side of a ranking pair (its padded copy still is).
MIN_RATED_TARGET = 0.5


def attach_contrasts(examples: list[Example], labelled: list[LabelledWindow], encoder: WindowEncoder,
                     seed: int, empathy_column: int | None, sources=CONTRAST_SOURCES, kinds=WORSE_KINDS) -> int:
    """Give each eligible example of `sources` its worse replies (one per kind of `kinds` that applies)
    and a padded copy, encoded once. Returns the number of examples that got them."""
    rng = random.Random(seed)
    pools = {s: [(lw.group, lw.window.target) for lw in labelled if lw.source == s and lw.window.target.strip()]
             for s in sources}
    plans = []
    for index, lw in enumerate(labelled):
        if lw.source not in sources or not lw.window.target.strip():
            continue
        rated = lw.perceived[empathy_column] if empathy_column is not None else float("nan")
        rank = not (rated == rated and rated < MIN_RATED_TARGET)      # NaN (unrated) counts as ranked
        worse = [worse_reply(k, lw.window.target, lw.group, pools[lw.source], rng) for k in kinds] \
            if rank else []
        windows = [with_target(lw.window, t) for t in worse if t is not None]
        plans.append((index, len(windows), windows + [with_target(lw.window, padded(lw.window.target, rng))]))
    encoded = encoder.encode([w for _, _, ws in plans for w in ws])
    start = 0
    for index, n_worse, windows in plans:
        mine = encoded[start:start + len(windows)]
        start += len(windows)
        examples[index].contrast = mine[:n_worse]
        examples[index].padded = mine[n_worse]
    return len(plans)


def contrast_loss(forward, batch: list[Example], real_scores: torch.Tensor, margin: float,
                  contrast_share: float, padding_share: float, rng: random.Random) -> torch.Tensor:
    """Hinge losses on the perceived scores: real - worse >= margin, padded <= real.
    `forward(encoded windows)` returns their perceived scores; each eligible example of the batch
    contributes one worse reply with probability `contrast_share`, its padded copy with `padding_share`."""
    worse_rows, worse, pad_rows, pads = [], [], [], []
    for row, example in enumerate(batch):
        if example.contrast and rng.random() < contrast_share:
            worse_rows.append(row)
            worse.append(rng.choice(example.contrast))
        if example.padded is not None and rng.random() < padding_share:
            pad_rows.append(row)
            pads.append(example.padded)
    if not worse and not pads:
        return torch.zeros((), device=real_scores.device)
    scores = forward(worse + pads)
    loss = torch.zeros((), device=real_scores.device)
    if worse:
        gap = real_scores[worse_rows] - scores[:len(worse)]
        loss = loss + torch.relu(margin - gap).mean()
    if pads:
        loss = loss + torch.relu(scores[len(worse):] - real_scores[pad_rows]).mean()
    return loss
