"""Train a perceived stack of its own (issue 36, item 1) on the shipped graph's cached hidden states
(stack_cache.py): N transformer layers on the states after shared layer K, then `perceived.empathy`
from the target tokens' mean, as the shipped head reads it. The shipped encoder stays frozen, so
every other output of the bundle is unchanged.

    PYTHONPATH=$PWD nice -n 10 python research/perceived/stack_train.py /work/runs/perceived-stack/cache \
        --branch 3 --layers 2 --epochs 3 --aux -o /work/runs/perceived-stack/b3l2

The layers start from all-MiniLM-L6-v2's layers K+1..K+N (the last one repeated when they run out).
Loss: BCE on rating / 5 (and with --aux polarity / 2 and intensity / 5 at weight 0.5, the shared
task's auxiliary targets), plus --rank-weight times a pairwise logistic ranking loss on the batch's
empathy pairs rated >= 0.1 apart, and with --contrast-cache the product's ranking losses (the real
reply above an off-topic, canned or curt one; a padded copy not above it). The epoch is chosen on the 10% validation conversations of `train`
(hash seed 2027, wassa_ceiling.py's split); `dev` is reported, with the 95% bootstrap CI resampling
its conversations and the paired difference against the shipped `perceived.empathy` on the same turns.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import load_file
from transformers import BertConfig
from transformers.models.bert.modeling_bert import BertLayer

from empathy_metric.pipeline.windows import WindowSettings
from empathy_metric.reporting.statistics import BootstrapSettings
from empathy_metric.training.data import group_fraction
from empathy_metric.training.perceived_validity import Rows, bootstrap_ci, correlation_report, log_words, pearson
from empathy_metric.training.wassa import wassa_windows

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "relevance"))
from model import minilm_folder  # noqa: E402
from train import Cache as TokenCache, length_batches  # noqa: E402

SEED = 13
VALID_SEED, VALID_FRACTION = 2027, 0.1
AUX_WEIGHTS = torch.tensor([1.0, 0.5, 0.5])
MARGIN, CONTRAST_SHARE, PADDING_SHARE = 0.1, 0.5, 0.25      # the product's (training/loop.py)


class Cache(TokenCache):
    """One split of stack_cache.py's files; `batch` as the relevance stack's (padded states and masks)."""

    def __init__(self, prefix: Path, split: str, branch: int):
        self.tokens = np.load(f"{prefix}-{split}.layer{branch}.npy", mmap_mode="r")
        meta = np.load(f"{prefix}-{split}.npz")
        self.meta = {k: meta[k] for k in meta.files}


class PerceivedStack(torch.nn.Module):
    def __init__(self, branch: int, layers: int, outputs: int):
        super().__init__()
        config = BertConfig.from_pretrained(str(minilm_folder()))
        config._attn_implementation = "eager"          # exports as plain ops, as the shipped graph
        weights = load_file(str(minilm_folder() / "model.safetensors"))
        self.layers = torch.nn.ModuleList()
        for i in range(layers):
            source = f"encoder.layer.{min(branch + 1 + i, config.num_hidden_layers - 1)}."
            layer = BertLayer(config)
            layer.load_state_dict({k[len(source):]: v for k, v in weights.items() if k.startswith(source)})
            self.layers.append(layer)
        self.dropout = torch.nn.Dropout(0.1)
        self.head = torch.nn.Linear(config.hidden_size, outputs)

    def forward(self, hidden, attention_mask, target_mask):
        """Logits [batch, outputs]; column 0 is perceived empathy."""
        additive = (1.0 - attention_mask)[:, None, None, :] * -10000.0
        for layer in self.layers:
            out = layer(hidden, attention_mask=additive)
            hidden = out[0] if isinstance(out, tuple) else out
        w = target_mask[:, :, None]
        pooled = (hidden * w).sum(1) / w.sum(1).clamp(min=1.0)
        return self.head(self.dropout(pooled))


def load_stack(state: dict, branch: int) -> PerceivedStack:
    """A saved stack (its depth and outputs read from the state dict)."""
    layers = len({k.split(".")[1] for k in state if k.startswith("layers.")})
    stack = PerceivedStack(branch, layers, state["head.weight"].shape[0])
    stack.load_state_dict(state)
    return stack


class Contrasts:
    """Worse replies and padded copies of train's turns (stack_cache.py --contrast), by real turn."""

    def __init__(self, prefix: Path, branch: int, rng: np.random.Generator):
        self.cache = Cache(prefix, "contrast", branch)
        self.rng = rng
        self.worse: dict[int, list[int]] = {}
        self.padded: dict[int, int] = {}
        for row, (parent, kind) in enumerate(zip(self.cache.meta["parent"].tolist(), self.cache.meta["kind"].tolist())):
            if kind == 0:
                self.worse.setdefault(parent, []).append(row)
            else:
                self.padded[parent] = row

    def loss(self, model, rows: np.ndarray, real: torch.Tensor) -> torch.Tensor:
        """training/contrast.py's hinge losses on the scores: real - worse >= MARGIN (one worse reply
        per turn with probability 0.5), padded <= real (with probability 0.25)."""
        worse = [(i, self.rng.choice(self.worse[r])) for i, r in enumerate(rows.tolist())
                 if r in self.worse and self.rng.random() < CONTRAST_SHARE]
        pads = [(i, self.padded[r]) for i, r in enumerate(rows.tolist())
                if r in self.padded and self.rng.random() < PADDING_SHARE]
        if not worse and not pads:
            return real.sum() * 0.0
        picked = np.array([c for _, c in worse + pads])
        scores = torch.sigmoid(model(*self.cache.batch(picked))[:, 0])
        loss = real.sum() * 0.0
        if worse:
            loss = loss + torch.relu(MARGIN - (real[[i for i, _ in worse]] - scores[:len(worse)])).mean()
        if pads:
            loss = loss + torch.relu(scores[len(worse):] - real[[i for i, _ in pads]]).mean()
        return loss


def ranking_loss(logit: torch.Tensor, truth: torch.Tensor) -> torch.Tensor:
    gap = truth[:, None] - truth[None, :]
    pairs = gap >= 0.1                       # i rated above j
    if not pairs.any():
        return logit.sum() * 0.0
    return torch.nn.functional.softplus(logit[None, :] - logit[:, None])[pairs].mean()


@torch.no_grad()
def predict(model, cache: Cache, rows: np.ndarray) -> np.ndarray:
    model.eval()
    order = rows[np.argsort(cache.meta["lengths"][rows])]
    found = {}
    for i in range(0, len(order), 64):
        part = order[i:i + 64]
        found.update(zip(part.tolist(), torch.sigmoid(model(*cache.batch(part))[:, 0]).tolist()))
    model.train()
    return np.array([found[r] for r in rows.tolist()], np.float32)


def dev_report(scores: np.ndarray, cache: Cache, data: Path) -> dict:
    """r with dev's CI and the paired difference against the shipped score (same resamples)."""
    windows = wassa_windows(data / "wassa23", "dev", WindowSettings(), ["empathy"])
    if len(windows) != len(scores):
        raise SystemExit(f"{len(scores)} scores for {len(windows)} WASSA dev turns: a cache of other data?")
    length = log_words([w.window.target for w in windows])
    truth, group, baseline = cache.meta["labels"][:, 0], cache.meta["group"], cache.meta["baseline"]
    settings = BootstrapSettings()
    report = {"stack": correlation_report(Rows(scores, truth, length, group), "pearson", settings),
              "shipped": correlation_report(Rows(baseline, truth, length, group), "pearson", settings)}
    both = Rows(np.stack([scores, baseline], 1), truth, length, group)
    report["minus_shipped"] = pearson(scores, truth) - pearson(baseline, truth)
    report["minus_shipped_ci"] = bootstrap_ci(both, lambda s, t, _l: pearson(s[:, 0], t) - pearson(s[:, 1], t), settings)
    return report


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("cache", type=Path, help="the prefix given to stack_cache.py")
    parser.add_argument("-o", "--output", required=True, type=Path)
    parser.add_argument("--data", type=Path, default=Path("../shared/data"))
    parser.add_argument("--branch", type=int, default=3, help="the shared layer the stack reads (0-based)")
    parser.add_argument("--layers", type=int, default=2)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--lr", type=float, default=5e-5)
    parser.add_argument("--head-lr", type=float, default=5e-4)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--aux", action="store_true")
    parser.add_argument("--rank-weight", type=float, default=0.0)
    parser.add_argument("--contrast-cache", type=Path, help="a stack_cache.py --contrast prefix: the ranking losses")
    parser.add_argument("--contrast-weight", type=float, default=1.0)
    parser.add_argument("--seed", type=int, default=SEED)
    args = parser.parse_args()
    torch.manual_seed(args.seed)
    torch.set_num_threads(2)
    rng = np.random.default_rng(args.seed)
    train, dev = Cache(args.cache, "train", args.branch), Cache(args.cache, "dev", args.branch)
    held = np.array([group_fraction(str(g), VALID_SEED) < VALID_FRACTION for g in train.meta["group"]])
    train_rows, valid_rows, dev_rows = np.flatnonzero(~held), np.flatnonzero(held), np.arange(len(dev.meta["lengths"]))
    outputs = 3 if args.aux else 1
    model = PerceivedStack(args.branch, args.layers, outputs)
    optimizer = torch.optim.AdamW([{"params": model.layers.parameters(), "lr": args.lr},
                                   {"params": model.head.parameters(), "lr": args.head_lr}], weight_decay=0.01)
    steps = args.epochs * -(-len(train_rows) // args.batch_size)
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda s: min(1.0, s / max(1, 0.06 * steps)) * max(0.0, (steps - s) / steps))
    weights = AUX_WEIGHTS[:outputs]
    contrasts = Contrasts(args.contrast_cache, args.branch, np.random.default_rng(args.seed + 1)) \
        if args.contrast_cache else None
    labels = train.meta["labels"]
    args.output.mkdir(parents=True, exist_ok=True)
    print(f"train {len(train_rows)}, valid {len(valid_rows)}, dev {len(dev_rows)} turns", flush=True)
    history, began = [], time.time()
    for epoch in range(args.epochs):
        for step, rows in enumerate(length_batches(train.meta["lengths"], train_rows, args.batch_size, rng)):
            logits = model(*train.batch(rows))
            truth = torch.from_numpy(labels[rows][:, :outputs])
            loss = (torch.nn.functional.binary_cross_entropy_with_logits(logits, truth, reduction="none").mean(0)
                    * weights).sum()
            if contrasts is not None:
                loss = loss + args.contrast_weight * contrasts.loss(model, rows, torch.sigmoid(logits[:, 0]))
            if args.rank_weight:
                loss = loss + args.rank_weight * ranking_loss(logits[:, 0], truth[:, 0])
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            schedule.step()
            optimizer.zero_grad()
            if step % 100 == 0:
                print(f"epoch {epoch + 1} step {step} loss {loss.item():.4f} {time.time() - began:.0f}s", flush=True)
        valid_scores = predict(model, train, valid_rows)
        dev_scores = predict(model, dev, dev_rows)
        record = {"epoch": epoch + 1, "seconds": round(time.time() - began),
                  "r_valid": pearson(valid_scores, labels[valid_rows, 0]),
                  "r_valid_shipped": pearson(train.meta["baseline"][valid_rows], labels[valid_rows, 0]),
                  "r_dev": pearson(dev_scores, dev.meta["labels"][:, 0])}
        history.append(record)
        print(json.dumps(record), flush=True)
        torch.save(model.state_dict(), args.output / f"epoch{epoch + 1}.pt")
        np.save(args.output / f"dev{epoch + 1}.npy", dev_scores)
    best = max(history, key=lambda r: r["r_valid"])
    report = {"args": {k: str(v) for k, v in vars(args).items()}, "history": history, "chosen_epoch": best["epoch"],
              "dev": dev_report(np.load(args.output / f"dev{best['epoch']}.npy"), dev, args.data)}
    (args.output / "report.json").write_text(json.dumps(report, indent=1))
    print(json.dumps(report["dev"]), flush=True)


if __name__ == "__main__":
    main()
