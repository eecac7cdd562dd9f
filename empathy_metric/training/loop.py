"""The training loop: multi-task batches, per-task losses, early stopping on a validation split."""
from __future__ import annotations

import copy
import math
import random
import time
from dataclasses import asdict, dataclass
from typing import Callable

import numpy as np
import torch

from ..pipeline.encoding import EncodedWindow, pad_batch
from ..schemas import Task
from .contrast import contrast_loss
from .data import Example
from .distillation import distillation_loss
from .losses import TaskLoss


@dataclass
class TrainConfig:
    loss: str = "ce"
    epochs: int = 3
    batch_size: int = 16
    lr: float = 5e-5
    head_lr: float = 5e-4
    weight_decay: float = 0.01
    warmup_fraction: float = 0.06
    patience: int = 1               # epochs without validation gain before stopping
    seed: int = 13
    emh_repeat: int = 2             # EMH pairs are few: show them this many times an epoch
    perceived_weight: float = 1.0
    rationale_weight: float = 0.0   # > 0: EPITOME rationale tagging as an auxiliary loss (rationales.py)
    pooling: str = "target"         # encoder: "target" or "target+context" (model.py)
    distill_weight: float = 0.0     # > 0: (1 - w) * label loss + w * distillation loss (distillation.py)
    distill_temperature: float = 2.0
    contrast_weight: float = 0.0    # > 0: ranking losses on the perceived head (contrast.py)
    contrast_margin: float = 0.1    # the real reply's score must beat a worse one's by this much
    contrast_share: float = 0.5     # chance that an eligible example adds one worse reply to its batch
    padding_share: float = 0.25     # chance that it adds its padded copy
    device: str = "auto"
    max_steps: int | None = None    # for smoke tests

    def to_dict(self) -> dict:
        return asdict(self)


def pick_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def to_tensors(encoded: list[EncodedWindow], device, pad_id: int = 0) -> dict[str, torch.Tensor]:
    batch = pad_batch(encoded, np.arange(len(encoded)), pad_id)
    return {"input_ids": torch.from_numpy(batch.input_ids).to(device),
            "attention_mask": torch.from_numpy(batch.attention_mask).to(device),
            "target_mask": torch.from_numpy(batch.target_mask).to(device)}


def _length_bucketed(examples: list[Example], batch_size: int, rng: random.Random) -> list[list[Example]]:
    """Shuffle, then sort inside chunks of 50 batches by length: little padding, still random."""
    order = examples[:]
    rng.shuffle(order)
    chunk = batch_size * 50
    batches = []
    for start in range(0, len(order), chunk):
        part = sorted(order[start:start + chunk], key=lambda e: len(e.encoded.input_ids))
        batches += [part[i:i + batch_size] for i in range(0, len(part), batch_size)]
    rng.shuffle(batches)
    return batches


@torch.no_grad()
def predict(model, examples: list[Example], device, batch_size: int = 64) -> dict[str, np.ndarray]:
    """Outputs for every example, in input order: {output name: array}."""
    model.eval()
    model.to(device)
    order = sorted(range(len(examples)), key=lambda i: len(examples[i].encoded.input_ids))
    names = model.output_names()
    chunks: dict[str, list] = {n: [] for n in names}
    for start in range(0, len(order), batch_size):
        idx = order[start:start + batch_size]
        outputs = model(**to_tensors([examples[i].encoded for i in idx], device))
        for name, value in zip(names, outputs):
            chunks[name].append(value.float().cpu().numpy())
    inverse = np.argsort(order)
    return {n: np.concatenate(v)[inverse] if v else np.zeros((0,)) for n, v in chunks.items()}


def class_counts(examples: list[Example], task: Task) -> list[int]:
    counts = [0] * len(task.labels)
    for e in examples:
        if task.name in e.labels:
            counts[e.labels[task.name]] += 1
    return counts


def fit(model, tasks: list[Task], train: list[Example], valid: list[Example], config: TrainConfig,
        score_fn: Callable[[dict, list[Example]], float], log: Callable[[str], None] = print) -> dict:
    """Train, keep the weights of the best validation epoch (by `score_fn`), return the history."""
    seed_everything(config.seed)
    device = pick_device(config.device)
    model.to(device)
    losses = {t.name: TaskLoss(config.loss, class_counts(train, t)) for t in tasks}
    epoch_examples = [e for e in train for _ in range(config.emh_repeat if e.source == "emh" else 1)]
    steps_per_epoch = math.ceil(len(epoch_examples) / config.batch_size)
    total = steps_per_epoch * config.epochs
    if config.max_steps:
        total = min(total, config.max_steps)
    head_params = [p for n, p in model.named_parameters() if not n.startswith("encoder.")]
    optimizer = torch.optim.AdamW([
        {"params": model.encoder.parameters(), "lr": config.lr},
        {"params": head_params, "lr": config.head_lr}], weight_decay=config.weight_decay)
    warmup = max(1, int(total * config.warmup_fraction))
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda s: min((s + 1) / warmup, max(0.0, (total - s) / max(1, total - warmup))))
    rng = random.Random(config.seed)
    best, best_state, bad_epochs, step, history = -1.0, None, 0, 0, []
    for epoch in range(config.epochs):
        model.train()
        started, running = time.time(), 0.0
        for batch in _length_bucketed(epoch_examples, config.batch_size, rng):
            inputs = to_tensors([e.encoded for e in batch], device)
            if config.rationale_weight and model.rationale is not None:
                outputs, token_logits = model.forward_with_rationale(**inputs)
                loss = _batch_loss(outputs, batch, tasks, losses, config, device) + \
                    config.rationale_weight * rationale_loss(token_logits, inputs["target_mask"], batch)
            else:
                outputs = model(**inputs)
                loss = _batch_loss(outputs, batch, tasks, losses, config, device)
            if config.contrast_weight and model.perceived is not None:
                def perceived_of(encoded):
                    return model(**to_tensors(encoded, device))[-1]
                loss = loss + config.contrast_weight * contrast_loss(
                    perceived_of, batch, outputs[-1], config.contrast_margin, config.contrast_share,
                    config.padding_share, rng)
            optimizer_step(model, loss, optimizer, scheduler)
            step += 1
            running += loss.item()
            if step % 100 == 0:
                log(f"epoch {epoch + 1} step {step}/{total} loss {running / 100:.4f} "
                    f"({(time.time() - started) / (step - epoch * steps_per_epoch):.2f} s/step)")
                running = 0.0
            if config.max_steps and step >= config.max_steps:
                break
        score = score_fn(predict(model, valid, device), valid) if valid else 0.0
        history.append({"epoch": epoch + 1, "valid_score": score, "seconds": time.time() - started})
        log(f"epoch {epoch + 1} done in {time.time() - started:.0f} s: validation score {score:.4f}")
        if score > best:
            best, bad_epochs = score, 0
            best_state = copy.deepcopy({k: v.detach().cpu() for k, v in model.state_dict().items()})
        else:
            bad_epochs += 1
            if bad_epochs > config.patience:
                log("early stop: validation score stopped improving")
                break
        if config.max_steps and step >= config.max_steps:
            break
    if best_state is not None:
        model.load_state_dict(best_state)
    model.to("cpu")
    return {"history": history, "best_valid_score": best}


def optimizer_step(model, loss, optimizer, scheduler) -> None:
    """One update, shared by every recipe: backward, clip the gradient norm to 1, step, schedule."""
    optimizer.zero_grad()
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
    optimizer.step()
    scheduler.step()


def rationale_loss(token_logits, target_mask, batch: list[Example]):
    """Binary cross-entropy of the rationale head on the scored turn's tokens, where labels are known."""
    labels = torch.full(token_logits.shape, float("nan"), device=token_logits.device)
    for row, example in enumerate(batch):
        if example.rationale is not None:
            positions = torch.nonzero(target_mask[row] > 0).squeeze(1)[:len(example.rationale)]
            labels[row, positions] = torch.from_numpy(example.rationale[:len(positions)]).to(labels.device)
    known = ~torch.isnan(labels)
    if not known.any():
        return torch.zeros((), device=token_logits.device)
    return torch.nn.functional.binary_cross_entropy_with_logits(token_logits[known], labels[known])


def _batch_loss(outputs, batch: list[Example], tasks: list[Task], losses, config, device):
    total = torch.zeros((), device=device)
    distill = config.distill_weight
    for task, logits in zip(tasks, outputs):
        rows = [i for i, e in enumerate(batch) if task.name in e.labels]
        if rows:
            target = torch.tensor([batch[i].labels[task.name] for i in rows], device=device)
            total = total + (1.0 - distill) * losses[task.name](logits[rows], target)
        taught = [i for i, e in enumerate(batch) if e.soft and task.name in e.soft]
        if distill and taught:
            probs = torch.from_numpy(np.stack([batch[i].soft[task.name] for i in taught])).to(device)
            total = total + distill * distillation_loss(logits[taught], probs, config.distill_temperature)
    if len(outputs) > len(tasks):
        scores = outputs[len(tasks)]
        target = torch.from_numpy(np.stack([e.perceived for e in batch])).to(device)
        known = ~torch.isnan(target)
        if known.any():
            bce = torch.nn.functional.binary_cross_entropy(
                scores[known].clamp(1e-6, 1 - 1e-6), target[known])
            total = total + config.perceived_weight * bce
    return total
