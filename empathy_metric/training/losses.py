"""Classification losses selectable per run: cross-entropy, focal (Lin et al. 2017), LDAM (Cao et al. 2019)."""
from __future__ import annotations

import torch
import torch.nn.functional as F

LOSSES = ("ce", "focal", "ldam")


def focal_loss(logits: torch.Tensor, target: torch.Tensor, gamma: float = 2.0) -> torch.Tensor:
    """mean of -(1 - p_t)^gamma * log p_t."""
    log_p = F.log_softmax(logits, dim=-1).gather(1, target[:, None]).squeeze(1)
    return (-(1.0 - log_p.exp()) ** gamma * log_p).mean()


def ldam_margins(class_counts: list[int], max_margin: float = 0.5) -> torch.Tensor:
    """Per-class margin proportional to n_j^(-1/4), the largest equal to max_margin."""
    counts = torch.tensor([max(c, 1) for c in class_counts], dtype=torch.float32)
    margins = counts ** -0.25
    return margins * (max_margin / margins.max())


def ldam_loss(logits: torch.Tensor, target: torch.Tensor, margins: torch.Tensor,
              scale: float = 30.0) -> torch.Tensor:
    """Cross-entropy on s * (z - margin_y * onehot(y)). The paper applies it to normalised logits;
    `scale` keeps the usual s=30 so hand-computed cases match its definition."""
    adjusted = logits - F.one_hot(target, logits.shape[-1]) * margins.to(logits.device)[target][:, None]
    return F.cross_entropy(scale * adjusted, target)


class TaskLoss:
    """One loss for one task, built from its training label counts."""

    def __init__(self, kind: str, class_counts: list[int], gamma: float = 2.0):
        if kind not in LOSSES:
            raise ValueError(f"unknown loss '{kind}' (choose from {', '.join(LOSSES)})")
        self.kind, self.gamma = kind, gamma
        self.margins = ldam_margins(class_counts) if kind == "ldam" else None

    def __call__(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        if self.kind == "focal":
            return focal_loss(logits, target, self.gamma)
        if self.kind == "ldam":
            return ldam_loss(logits, target, self.margins)
        return F.cross_entropy(logits, target)


def distillation_loss(student_logits: torch.Tensor, teacher_probs: torch.Tensor, temperature: float) -> torch.Tensor:
    """T^2 * KL(teacher || softmax(student / T)), mean over rows (T^2 keeps gradients on the CE scale)."""
    log_student = F.log_softmax(student_logits / temperature, dim=-1)
    return F.kl_div(log_student, teacher_probs, reduction="batchmean") * temperature ** 2
