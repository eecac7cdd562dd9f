"""Checkpoint averaging ("model soup", Wortsman et al. 2022): the parameter mean of encoder checkpoints
fine-tuned from the same base model. One model, so scoring costs what a single model costs.

Calibration offsets are baked into each checkpoint's head biases (encoder_recipe.set_calibration);
they are taken out before averaging, and the soup is calibrated afresh on the validation split.

`greedy_soup` is the paper's greedy recipe: it keeps an ingredient only if it does not lower the
validation score, so a weak run cannot drag the average down.
"""
from __future__ import annotations

from pathlib import Path
from typing import Callable

import torch

from ..errors import UsageError
from ..pipeline.windows import WindowSettings
from .model import MultiHeadEncoder, load_checkpoint

SHARED_SETTINGS = ("tasks", "perceived", "window", "pooling")


def _shared(config: dict) -> dict:
    # Compared as settings: a config written before a setting existed holds its default.
    return {**{k: config.get(k) for k in SHARED_SETTINGS}, "window": WindowSettings.from_dict(config["window"]),
            "pooling": config.get("pooling", "target")}


def remove_calibration(model: MultiHeadEncoder, bias: dict[str, list[float]]) -> None:
    with torch.no_grad():
        for name, values in bias.items():
            head = model.heads[name]
            head.bias -= torch.tensor(values, dtype=head.bias.dtype)


def average_checkpoints(checkpoints: list[str]) -> tuple[MultiHeadEncoder, dict]:
    """(the averaged model, the first checkpoint's config); every checkpoint must share tasks and window.
    One checkpoint gives that checkpoint without its calibration."""
    loaded = [load_checkpoint(Path(c)) for c in checkpoints]
    first = loaded[0][1]
    for path, (_, config) in zip(checkpoints[1:], loaded[1:]):
        differing = [k for k in SHARED_SETTINGS if _shared(config)[k] != _shared(first)[k]]
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


def greedy_soup(checkpoints: list[str], score: Callable[[list[str]], float], log=print) -> tuple[list[str], list[dict]]:
    """Wortsman et al.'s greedy soup: rank the checkpoints by their own validation `score`, start from
    the best, and add each of the others in turn if the soup's score does not drop.
    Returns (the chosen checkpoints, one record per step)."""
    singles = {c: score([c]) for c in dict.fromkeys(checkpoints)}
    ranked = sorted(singles, key=singles.get, reverse=True)
    chosen, best = [ranked[0]], singles[ranked[0]]
    trail = [{"added": ranked[0], "alone": singles[ranked[0]], "soup": best, "kept": True}]
    log(f"greedy soup: start from {ranked[0]} (validation {best:.4f})")
    for candidate in ranked[1:]:
        value = score(chosen + [candidate])
        kept = value >= best
        trail.append({"added": candidate, "alone": singles[candidate], "soup": value, "kept": kept})
        log(f"greedy soup: + {candidate} (alone {singles[candidate]:.4f}) -> {value:.4f}: "
            + ("kept" if kept else "left out"))
        if kept:
            chosen, best = chosen + [candidate], value
    return chosen, trail
