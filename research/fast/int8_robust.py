"""Int8-robust fine-tuning of a trained checkpoint (a light form of quantisation-aware training).

The int8 graph runs ORT's dynamic quantisation: per window, the input of every encoder MatMul is
rounded to uint8 with one scale (its min..max), weights to int8 per output channel, the embedding
table to 8 bits. This script emulates that rounding in PyTorch (straight-through gradients) and
fine-tunes the checkpoint so that both its fp32 outputs and its emulated-int8 outputs stay those of
the original fp32 model (KL on every label head, squared error on the perceived scores). No labels
are used: the original model is the teacher, so quality should not move; what changes is how far a
label sits from the int8 noise. Windows: ESConv train.json and WASSA train (never the held-out sets),
in length-sorted batches, so padding barely touches a window's range.

Usage: python research/fast/int8_robust.py CHECKPOINT OUT_DIR [STEPS] [LR]
Then export OUT_DIR with `empathy-score export` (int8) and compare `export_validation` agreements.
"""
import json
import random
import shutil
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from empathy_metric.pipeline.encoding import WindowEncoder, load_tokenizer, pad_batch
from empathy_metric.pipeline.windows import WindowSettings
from empathy_metric.training.data import esconv_windows
from empathy_metric.training.model import load_checkpoint, save_checkpoint
from empathy_metric.training.wassa import wassa_windows

DATA = Path("../shared/data")
BATCH = 16
EMULATE = {"on": False}


def fake_activation(x: torch.Tensor) -> torch.Tensor:
    """uint8, one asymmetric scale per window (row of the batch), range including 0, as ORT's
    DynamicQuantizeLinear; straight-through gradient."""
    flat = x.reshape(x.shape[0], -1)
    low = flat.min(dim=1).values.clamp(max=0)
    high = flat.max(dim=1).values.clamp(min=0)
    scale = ((high - low) / 255).clamp(min=1e-8)
    zero = torch.round(-low / scale)
    shape = (-1,) + (1,) * (x.dim() - 1)
    scale, zero = scale.view(shape), zero.view(shape)
    q = torch.clamp(torch.round(x / scale) + zero, 0, 255)
    return x + ((q - zero) * scale - x).detach()


def fake_weight(w: torch.Tensor, per_row: bool = True) -> torch.Tensor:
    """int8 symmetric, one scale per output channel (a row of a Linear's weight) or per tensor."""
    top = w.abs().amax(dim=1, keepdim=True) if per_row else w.abs().max()
    scale = (top / 127).clamp(min=1e-12)
    return w + (torch.clamp(torch.round(w / scale), -127, 127) * scale - w).detach()


def emulate_int8(model) -> None:
    """Swap the forward of every encoder Linear (and the word embeddings) for one that rounds as the
    int8 graph does while EMULATE['on']."""
    for layer in model.encoder.encoder.layer:
        for module in layer.modules():
            if isinstance(module, torch.nn.Linear):
                def forward(x, module=module):
                    if not EMULATE["on"]:
                        return F.linear(x, module.weight, module.bias)
                    return F.linear(fake_activation(x), fake_weight(module.weight), module.bias)
                module.forward = forward
    embeddings = model.encoder.embeddings.word_embeddings

    def embed(ids, module=embeddings):
        weight = fake_weight(module.weight, per_row=False) if EMULATE["on"] else module.weight
        return F.embedding(ids, weight, module.padding_idx)
    embeddings.forward = embed


def batches(encoded, pad_id: int, seed: int):
    order = sorted(range(len(encoded)), key=lambda i: len(encoded[i].input_ids))
    chunks = [order[i:i + BATCH] for i in range(0, len(order), BATCH)]
    random.Random(seed).shuffle(chunks)
    for chunk in chunks:
        b = pad_batch(encoded, np.array(chunk), pad_id)
        yield (torch.from_numpy(b.input_ids), torch.from_numpy(b.attention_mask), torch.from_numpy(b.target_mask))


def distance(outputs, targets, n_tasks: int) -> torch.Tensor:
    loss = sum(F.kl_div(F.log_softmax(o, -1), F.softmax(t, -1), reduction="batchmean")
               for o, t in zip(outputs[:n_tasks], targets[:n_tasks]))
    if len(outputs) > n_tasks:
        loss = loss + 10 * F.mse_loss(outputs[n_tasks], targets[n_tasks])
    return loss


def main(checkpoint: Path, out_dir: Path, steps: int, lr: float) -> None:
    torch.manual_seed(13)
    teacher, config = load_checkpoint(checkpoint)
    student, _ = load_checkpoint(checkpoint)
    teacher.eval()
    student.eval()                 # no dropout: the outputs themselves are the target
    emulate_int8(student)
    settings = WindowSettings.from_dict(config["window"])
    encoder = WindowEncoder(load_tokenizer(checkpoint / "tokenizer.json"), settings)
    windows = [x.window for x in esconv_windows(str(DATA / "esconv" / "train.json"), settings)]
    windows += [x.window for x in wassa_windows(DATA / "wassa23", "train", settings, config.get("perceived", []))]
    encoded = encoder.encode(windows)
    n_tasks = len(config["tasks"])
    optimiser = torch.optim.AdamW([p for p in student.parameters() if p.requires_grad], lr=lr, weight_decay=0.0)
    started, step, seed = time.time(), 0, 0
    while step < steps:
        for feeds in batches(encoded, encoder.pad_id, seed):
            with torch.no_grad():
                targets = teacher(*feeds)
            EMULATE["on"] = True
            quantised = distance(student(*feeds), targets, n_tasks)
            EMULATE["on"] = False
            full = distance(student(*feeds), targets, n_tasks)
            optimiser.zero_grad()
            (quantised + full).backward()
            optimiser.step()
            step += 1
            if step % 25 == 0:
                print(json.dumps({"step": step, "int8_kl": round(float(quantised), 5), "fp32_kl": round(float(full), 5),
                                  "s_per_step": round((time.time() - started) / step, 2)}), flush=True)
            if step >= steps:
                break
        seed += 1
    EMULATE["on"] = False
    config = {**config, "int8_robust": {"from": str(checkpoint), "steps": steps, "lr": lr}}
    save_checkpoint(student, out_dir, config)
    shutil.copy(checkpoint / "tokenizer.json", out_dir / "tokenizer.json")
    print(f"saved {out_dir}")


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]), int(sys.argv[3]) if len(sys.argv) > 3 else 300,
         float(sys.argv[4]) if len(sys.argv) > 4 else 1e-5)
