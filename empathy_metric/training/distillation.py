"""Knowledge distillation (Hinton et al., 2015): the student also learns a teacher's soft labels.

Teachers are trained encoder checkpoints: a bigger base model (e.g. all-mpnet-base-v2), or several
runs whose probabilities are averaged (an ensemble). Each teacher reads the windows with its own
tokenizer and window settings. Soft labels are made for every training window and every task the
teacher has, so an ESConv turn also learns the EMH heads' teacher view, and an EMH pair the
strategy head's. Calibration offsets are taken out of the teachers (`EncoderRecipe.averaged`).
"""
from __future__ import annotations

from typing import Any, Callable

import numpy as np
import torch
import torch.nn.functional as F


def soft_labels(teacher_dirs: list[str], windows: list, temperature: float, load_teacher: Callable[[str], Any],
                log=print) -> dict[str, np.ndarray]:
    """{task: [n, classes]} mean over teachers of softmax(logits / temperature), rows aligned with `windows`.
    `load_teacher(path)`: the checkpoint as a model with `tasks` and `predict(windows)`, on the student's
    device (`EncoderRecipe.teacher`); teachers are loaded one at a time. The loss: losses.distillation_loss."""
    sums: dict[str, np.ndarray] = {}
    for path in teacher_dirs:
        log(f"teacher {path}: soft labels for {len(windows)} windows")
        teacher = load_teacher(path)
        outputs = teacher.predict(windows)
        for task in teacher.tasks:
            z = torch.from_numpy(outputs[f"logits.{task.name}"]) / temperature
            sums[task.name] = sums.get(task.name, 0) + F.softmax(z, dim=-1).numpy()
    return {task: total / len(teacher_dirs) for task, total in sums.items()}
