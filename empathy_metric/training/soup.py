"""Checkpoint averaging ("model soup", Wortsman et al. 2022): the parameter mean of encoder checkpoints
fine-tuned from the same base model. One model, so scoring costs what a single model costs.

Calibration offsets are baked into each checkpoint's head biases (encoder_recipe.set_calibration);
they are taken out before averaging, and the soup is calibrated afresh on the validation split.
"""
from __future__ import annotations

from pathlib import Path

import torch

from ..errors import UsageError
from .model import MultiHeadEncoder, load_checkpoint

SHARED_SETTINGS = ("tasks", "perceived", "window")


def remove_calibration(model: MultiHeadEncoder, bias: dict[str, list[float]]) -> None:
    with torch.no_grad():
        for name, values in bias.items():
            head = model.heads[name]
            head.bias -= torch.tensor(values, dtype=head.bias.dtype)


def average_checkpoints(checkpoints: list[str]) -> tuple[MultiHeadEncoder, dict]:
    """(the averaged model, the first checkpoint's config); every checkpoint must share tasks and window."""
    if len(checkpoints) < 2:
        raise UsageError("averaging needs at least two checkpoints")
    loaded = [load_checkpoint(Path(c)) for c in checkpoints]
    first = loaded[0][1]
    for path, (_, config) in zip(checkpoints[1:], loaded[1:]):
        differing = [k for k in SHARED_SETTINGS if config.get(k) != first.get(k)]
        if differing:
            raise UsageError(f"{path}: {', '.join(differing)} differ from {checkpoints[0]}; "
                             "only checkpoints of one recipe can be averaged")
    for model, config in loaded:
        remove_calibration(model, config.get("calibration_bias") or {})
    states = [model.state_dict() for model, _ in loaded]
    averaged = {name: torch.stack([s[name] for s in states]).mean(0) if value.is_floating_point() else value
                for name, value in states[0].items()}
    model = loaded[0][0]
    model.load_state_dict(averaged)
    return model, first
