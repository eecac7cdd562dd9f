"""How well can this encoder track WASSA's third-party perceived-empathy ratings when it learns them
alone? A ceiling for the multi-task model's perceived head (issue 17: target r >= 0.70).

Fine-tunes an encoder (the MiniLM base, or a trained checkpoint's encoder) on WASSA `train` only,
with the shipped window and target pooling, and reports Pearson r per epoch on the 10% validation
split of `train` (hash seed 2027, the one `train` uses) and on `dev`. Decisions are taken on the
validation split; `dev` is reported, never selected on.

    python research/perceived/wassa_ceiling.py --data ../shared/data --epochs 3 [--aux] [--encoder DIR] [--save DIR]

`--aux`: also regress the turn's emotional polarity (0..2) and intensity (0..5), as the multi-task
shared-task systems do.
"""
from __future__ import annotations

import argparse
import inspect
import shutil
import time
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import load_file
from scipy.stats import pearsonr

from empathy_metric.pipeline.encoding import WindowEncoder, length_sorted_batches, load_tokenizer
from empathy_metric.pipeline.windows import WindowSettings
from empathy_metric.schemas import PERCEIVED_DIMENSIONS
from empathy_metric.training.config import default_encoder
from empathy_metric.training.data import holdout_split
from empathy_metric.training.wassa import wassa_windows

SCALES = np.array([5.0, 2.0, 5.0], dtype=np.float32)     # empathy, polarity, intensity


def labelled(folder: Path, split: str, encoder: WindowEncoder):
    windows = wassa_windows(folder, split, WindowSettings(), list(PERCEIVED_DIMENSIONS))
    rows = [line.split() for line in (folder / f"{split}_context_labels.txt").read_text().splitlines()]
    labels = np.array([[float(r[2]), float(r[0]), float(r[1])] for r in rows], dtype=np.float32) / SCALES
    assert len(windows) == len(labels), (len(windows), len(labels))
    encoded = encoder.encode([lw.window for lw in windows])
    return [(e, y, lw.group) for e, y, lw in zip(encoded, labels, windows)]


class Regressor(torch.nn.Module):
    def __init__(self, encoder_path: str, outputs: int):
        super().__init__()
        from transformers import AutoModel
        self.encoder = AutoModel.from_pretrained(encoder_path, local_files_only=True).float()
        self.dropout = torch.nn.Dropout(0.1)
        self.head = torch.nn.Linear(self.encoder.config.hidden_size, outputs)
        self.types = "token_type_ids" in inspect.signature(self.encoder.forward).parameters   # MPNet has none

    def forward(self, ids, mask, target):
        types = {"token_type_ids": torch.zeros_like(ids)} if self.types else {}
        hidden = self.encoder(input_ids=ids, attention_mask=mask, **types).last_hidden_state
        w = target.unsqueeze(-1)
        pooled = (hidden * w).sum(1) / w.sum(1).clamp(min=1.0)
        return torch.sigmoid(self.head(self.dropout(pooled)))


def batches(items, pad_id, shuffle_seed=None, size=16):
    encoded = [e for e, _, _ in items]
    order = list(length_sorted_batches(encoded, 16384, size, pad_id, min_rows=1))
    if shuffle_seed is not None:
        np.random.default_rng(shuffle_seed).shuffle(order)
    for b in order:
        yield b, np.stack([items[i][1] for i in b.positions])


@torch.inference_mode()
def predict(model, items, pad_id):
    model.eval()
    out = np.zeros(len(items), dtype=np.float32)
    for b, _ in batches(items, pad_id, size=64):
        out[b.positions] = model(*(torch.from_numpy(x) for x in (b.input_ids, b.attention_mask, b.target_mask)))[:, 0].numpy()
    model.train()
    return out


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", default="../shared/data")
    parser.add_argument("--encoder", default=None, help="an encoder folder (default: the MiniLM base)")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--lr", type=float, default=5e-5)
    parser.add_argument("--aux", action="store_true")
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--save", type=Path, help="save the model after each epoch in SAVE/epoch-<n>")
    parser.add_argument("--resume", type=Path, help="an epoch folder written by --save: go on after it")
    args = parser.parse_args()
    torch.manual_seed(args.seed)
    path = args.encoder or default_encoder()
    encoder = WindowEncoder(load_tokenizer(Path(path) / "tokenizer.json"), WindowSettings())
    folder = Path(args.data) / "wassa23"

    class G:      # holdout_split groups anything with a .group
        def __init__(self, item):
            self.item, self.group = item, item[2]
    train, valid = holdout_split([G(x) for x in labelled(folder, "train", encoder)], 0.1, 2027)
    train, valid = [g.item for g in train], [g.item for g in valid]
    dev = labelled(folder, "dev", encoder)
    print(f"train {len(train)}, valid {len(valid)}, dev {len(dev)} turns", flush=True)

    outputs = 3 if args.aux else 1
    model = Regressor(path, outputs)
    steps = args.epochs * ((len(train) + 15) // 16)
    optimizer = torch.optim.AdamW([{"params": model.encoder.parameters(), "lr": args.lr},
                                   {"params": model.head.parameters(), "lr": 5e-4}], weight_decay=0.01)
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda s: min(1.0, s / max(1, 0.06 * steps)) * max(0.0, (steps - s) / steps))
    weights = torch.tensor([1.0, 0.5, 0.5][:outputs])
    step, first_epoch, start = 0, 0, time.time()
    if args.resume:
        state = torch.load(args.resume / "training.pt")
        model.encoder.load_state_dict(load_file(args.resume / "model.safetensors"))
        model.head.load_state_dict(state["head"])
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        step, first_epoch = state["step"], state["epoch"]
        print(f"resumed after epoch {first_epoch} (step {step})", flush=True)
    for epoch in range(first_epoch, args.epochs):
        for b, y in batches(train, encoder.pad_id, shuffle_seed=args.seed + epoch):
            pred = model(*(torch.from_numpy(x) for x in (b.input_ids, b.attention_mask, b.target_mask)))
            target = torch.from_numpy(y[:, :outputs])
            loss = (torch.nn.functional.binary_cross_entropy(pred, target, reduction="none").mean(0) * weights).sum()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            scheduler.step()
            optimizer.zero_grad()
            step += 1
            if step % 100 == 0:
                print(f"step {step}/{steps} loss {loss.item():.4f} {time.time() - start:.0f}s", flush=True)
        r_valid = pearsonr(predict(model, valid, encoder.pad_id), [y[0] for _, y, _ in valid])[0]
        r_dev = pearsonr(predict(model, dev, encoder.pad_id), [y[0] for _, y, _ in dev])[0]
        print(f"epoch {epoch + 1}: r valid {r_valid:.3f}, r dev {r_dev:.3f} ({time.time() - start:.0f}s)", flush=True)
        if args.save:      # everything a later session needs to go on (the teacher of issue 36 item 4)
            folder = args.save / f"epoch-{epoch + 1}"
            model.encoder.save_pretrained(folder, safe_serialization=True)
            shutil.copy(Path(path) / "tokenizer.json", folder)
            torch.save({"head": model.head.state_dict(), "optimizer": optimizer.state_dict(),
                        "scheduler": scheduler.state_dict(), "step": step, "epoch": epoch + 1,
                        "r_valid": float(r_valid), "r_dev": float(r_dev)}, folder / "training.pt")


if __name__ == "__main__":
    main()
