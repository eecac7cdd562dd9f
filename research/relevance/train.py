"""Train the `perceived.relevance` stack on cached hidden states (hidden_states.py).

    PYTHONPATH=$PWD nice -n 10 python research/relevance/train.py /work/runs/relevance/train \
        -o /work/runs/relevance/stack --epochs 3

Binary cross-entropy, real replies (1) against replies from another conversation or another turn of
the same one (0), real ones weighted to balance. AdamW, linear decay, batches of similar length.
10% of the training groups (dialogues, EMH seeker posts) are held out for the epoch choice
(`--valid-fraction 0` refits on all); a state dict is written after every epoch. (The experiment
research/relevance/README.md reports as not working: kept to reproduce it.)
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch
from sklearn.metrics import roc_auc_score

from empathy_metric.training.data import group_fraction

sys.path.insert(0, str(Path(__file__).resolve().parent))
from model import RelevanceStack  # noqa: E402

SEED = 36


class Cache:
    def __init__(self, prefix: Path):
        self.tokens = np.load(str(prefix) + ".tokens.npy", mmap_mode="r")
        meta = np.load(str(prefix) + ".npz")
        self.meta = {k: meta[k] for k in meta.files}

    def batch(self, rows: np.ndarray):
        lengths, offsets = self.meta["lengths"][rows], self.meta["offsets"][rows]
        longest = int(lengths.max())
        hidden = np.zeros((len(rows), longest, 384), np.float32)
        attention = np.zeros((len(rows), longest), np.float32)
        target = np.zeros((len(rows), longest), np.float32)
        for i, (o, n) in enumerate(zip(offsets, lengths)):
            hidden[i, :n] = self.tokens[o:o + n]
            attention[i, :n] = 1
            target[i, :n] = self.meta["target_mask"][o:o + n]
        return torch.from_numpy(hidden), torch.from_numpy(attention), torch.from_numpy(target)


def length_batches(lengths: np.ndarray, rows: np.ndarray, size: int, rng: np.random.Generator):
    """Rows shuffled, cut into chunks of 50 batches, each chunk sorted by length, batches shuffled."""
    rows = rng.permutation(rows)
    batches = []
    for start in range(0, len(rows), size * 50):
        chunk = rows[start:start + size * 50]
        chunk = chunk[np.argsort(lengths[chunk], kind="stable")]
        batches += [chunk[i:i + size] for i in range(0, len(chunk), size)]
    return [batches[i] for i in rng.permutation(len(batches))]


def scores(model, cache: Cache, rows: np.ndarray) -> np.ndarray:
    model.eval()
    order = rows[np.argsort(cache.meta["lengths"][rows])]
    found = {}
    with torch.no_grad():
        for i in range(0, len(order), 64):
            part = order[i:i + 64]
            found.update(zip(part.tolist(), torch.sigmoid(model(*cache.batch(part))).tolist()))
    return np.array([found[r] for r in rows.tolist()])


def evaluate(model, cache: Cache, rows: np.ndarray) -> dict:
    s, label, kind = scores(model, cache, rows), cache.meta["label"][rows], cache.meta["kind"][rows]
    result = {"auc_all": roc_auc_score(label, s)}
    for k in ("swapped_other", "swapped_same"):
        keep = (kind == "real") | (kind == k)
        result[f"auc_{k}"] = roc_auc_score(label[keep], s[keep])
    return result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("cache", type=Path)
    parser.add_argument("-o", "--output", required=True, type=Path)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--lr", type=float, default=5e-5)
    parser.add_argument("--head-lr", type=float, default=1e-3)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--valid-fraction", type=float, default=0.1)
    parser.add_argument("--limit", type=int, default=None, help="training rows (a timing try)")
    args = parser.parse_args()
    torch.manual_seed(SEED)
    torch.set_num_threads(2)
    rng = np.random.default_rng(SEED)
    cache = Cache(args.cache)
    held = np.array([group_fraction(str(g), SEED) < args.valid_fraction for g in cache.meta["group"]])
    train_rows, valid_rows = np.flatnonzero(~held)[:args.limit], np.flatnonzero(held)
    label = cache.meta["label"]
    model = RelevanceStack()
    optimizer = torch.optim.AdamW([{"params": model.layer.parameters(), "lr": args.lr},
                                   {"params": model.head.parameters(), "lr": args.head_lr}], weight_decay=0.01)
    per_epoch = -(-len(train_rows) // args.batch_size)
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda step: max(0.0, 1 - step / (per_epoch * args.epochs)))
    positive_weight = torch.tensor((label[train_rows] == 0).sum() / max((label[train_rows] == 1).sum(), 1))
    loss_fn = torch.nn.BCEWithLogitsLoss(pos_weight=positive_weight)
    args.output.mkdir(parents=True, exist_ok=True)
    history = []
    print(f"{len(train_rows)} training rows, {len(valid_rows)} validation rows", flush=True)
    for epoch in range(args.epochs):
        model.train()
        began, total = time.time(), 0.0
        batches = length_batches(cache.meta["lengths"], train_rows, args.batch_size, rng)
        for step, rows in enumerate(batches):
            optimizer.zero_grad()
            loss = loss_fn(model(*cache.batch(rows)), torch.from_numpy(label[rows].astype(np.float32)))
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            schedule.step()
            total += loss.item()
            if step % 100 == 0:
                print(f"epoch {epoch + 1} step {step}/{len(batches)} loss {total / (step + 1):.4f} "
                      f"{time.time() - began:.0f}s", flush=True)
        record = {"epoch": epoch + 1, "loss": total / len(batches), "seconds": round(time.time() - began)}
        if len(valid_rows):
            record.update(evaluate(model, cache, valid_rows))
        history.append(record)
        print(json.dumps(record), flush=True)
        torch.save(model.state_dict(), args.output / f"epoch{epoch + 1}.pt")
    (args.output / "history.json").write_text(json.dumps(history, indent=1))


if __name__ == "__main__":
    main()
