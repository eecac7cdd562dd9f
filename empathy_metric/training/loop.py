"""The training loop of every recipe (`fit`), and the encoder recipe's batches and losses (`fit_encoder`).

`fit` owns what all architectures share: the optimiser and its schedule, the epoch loop over
length-bucketed batches, validation, early stopping and the best epoch's weights. A recipe gives it
its training units, parameter groups, a batch loss and a validation score."""
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
from .losses import TaskLoss, distillation_loss
from .model import predict_encoded
from .perturbations import WORSE_KINDS


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
    wassa_repeat: int = 1           # WASSA turns: the only turn-level perceived ratings
    perceived_weight: float = 1.0
    rationale_weight: float = 0.0   # > 0: EPITOME rationale tagging as an auxiliary loss (rationales.py)
    pooling: str = "target"         # encoder: "target" or "target+context" (model.py)
    distill_weight: float = 0.0     # > 0: (1 - w) * label loss + w * distillation loss (distillation.py)
    distill_temperature: float = 2.0
    contrast_weight: float = 0.0    # > 0: ranking losses on the perceived head (contrast.py)
    contrast_margin: float = 0.1    # the real reply's score must beat a worse one's by this much
    contrast_sources: tuple[str, ...] = ("esconv", "wassa")   # whose turns get ranking pairs
    contrast_kinds: tuple[str, ...] = WORSE_KINDS              # which worse replies (perturbations.py)
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


def length_bucketed(items: list, length: Callable[[object], float], batch_size: int,
                    rng: random.Random) -> list[list]:
    """Shuffle, then sort inside chunks of 50 batches by `length`: little padding, still random."""
    order = items[:]
    rng.shuffle(order)
    chunk = batch_size * 50
    batches = []
    for start in range(0, len(order), chunk):
        part = sorted(order[start:start + chunk], key=length)
        batches += [part[i:i + batch_size] for i in range(0, len(part), batch_size)]
    rng.shuffle(batches)
    return batches


def fit(model, parameter_groups: list[dict], items: list, batch_loss: Callable[[list, random.Random], torch.Tensor],
        validate: Callable[[], float] | None, config: TrainConfig, log: Callable[[str], None] = print,
        length: Callable[[object], float] = len, log_every: int = 100) -> dict:
    """The one training loop of every recipe. `items` are one epoch's training units (examples, or
    (window, prompt) pairs; repeats included), batched by `length_bucketed`; `batch_loss(batch, rng)`
    is the recipe's loss of one batch. AdamW over `parameter_groups` (each with its own lr), linear
    warm-up over `config.warmup_fraction` of the steps then linear decay, gradient norm clipped to 1.
    After each epoch `validate()` scores the model: the best epoch's weights are kept, and training
    stops after `config.patience` epochs without gain. Without `validate` the last epoch is kept.
    Returns {"history": one record per epoch, "best_valid_score", "steps"}."""
    seed_everything(config.seed)
    model.to(pick_device(config.device))
    steps_per_epoch = math.ceil(len(items) / config.batch_size)
    total = steps_per_epoch * config.epochs
    if config.max_steps:
        total = min(total, config.max_steps)
    optimizer = torch.optim.AdamW(parameter_groups, weight_decay=config.weight_decay)
    warmup = max(1, int(total * config.warmup_fraction))
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda s: min((s + 1) / warmup, max(0.0, (total - s) / max(1, total - warmup))))
    rng = random.Random(config.seed)
    best, best_state, bad_epochs, step, history = -1.0, None, 0, 0, []
    for epoch in range(config.epochs):
        model.train()
        started, running = time.time(), 0.0
        for batch in length_bucketed(items, length, config.batch_size, rng):
            loss = batch_loss(batch, rng)
            optimizer_step(model, loss, optimizer, scheduler)
            step += 1
            running += loss.item()
            if step % log_every == 0:
                log(f"epoch {epoch + 1} step {step}/{total} loss {running / log_every:.4f} "
                    f"({(time.time() - started) / (step - epoch * steps_per_epoch):.2f} s/step)")
                running = 0.0
            if config.max_steps and step >= config.max_steps:
                break
        score = validate() if validate is not None else 0.0
        history.append({"epoch": epoch + 1, "steps": step, "valid_score": score, "seconds": time.time() - started})
        log(f"epoch {epoch + 1} done in {time.time() - started:.0f} s: validation score {score:.4f}")
        if validate is None:
            pass                                  # nothing to choose an epoch by: keep the last one
        elif score > best:
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
    return {"history": history, "best_valid_score": best, "steps": step}


def class_counts(examples: list[Example], task: Task) -> list[int]:
    counts = [0] * len(task.labels)
    for e in examples:
        if task.name in e.labels:
            counts[e.labels[task.name]] += 1
    return counts


def fit_encoder(model, tasks: list[Task], train: list[Example], valid: list[Example], config: TrainConfig,
                score_fn: Callable[[dict, list[Example]], float], log: Callable[[str], None] = print,
                pad_id: int = 0) -> dict:
    """The encoder recipe's use of `fit`: multi-task batches of examples, each supervising the heads it
    has labels for, plus the optional rationale, distillation and contrastive losses; the encoder
    and the heads learn at their own rates; validation by `score_fn` of the outputs."""
    device = pick_device(config.device)
    losses = {t.name: TaskLoss(config.loss, class_counts(train, t)) for t in tasks}
    repeats = {"emh": config.emh_repeat, "wassa": config.wassa_repeat}
    epoch_examples = [e for e in train for _ in range(repeats.get(e.source, 1))]
    head_params = [p for n, p in model.named_parameters() if not n.startswith("encoder.")]
    groups = [{"params": list(model.encoder.parameters()), "lr": config.lr},
              {"params": head_params, "lr": config.head_lr}]

    def batch_loss(batch: list[Example], rng: random.Random) -> torch.Tensor:
        inputs = to_tensors([e.encoded for e in batch], device, pad_id)
        if config.rationale_weight and model.rationale is not None:
            outputs, token_logits = model.forward_with_rationale(**inputs)
            loss = _batch_loss(outputs, batch, tasks, losses, config, device) + \
                config.rationale_weight * rationale_loss(token_logits, inputs["target_mask"], batch)
        else:
            outputs = model(**inputs)
            loss = _batch_loss(outputs, batch, tasks, losses, config, device)
        if config.contrast_weight and model.perceived is not None:
            def perceived_of(encoded):
                return model(**to_tensors(encoded, device, pad_id))[-1]
            loss = loss + config.contrast_weight * contrast_loss(
                perceived_of, batch, outputs[-1], config.contrast_margin, config.contrast_share,
                config.padding_share, rng)
        return loss

    def validate() -> float:
        return score_fn(predict_encoded(model, [e.encoded for e in valid], device, pad_id), valid)
    return fit(model, groups, epoch_examples, batch_loss, validate if valid else None, config, log,
               length=lambda e: len(e.encoded.input_ids), log_every=100)


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
