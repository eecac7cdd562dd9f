"""The seq2seq architecture as a recipe (see training/experiment.py): one model for all tasks, each
(window, prompt) pair an example, trained on the rank-classification logits."""
from __future__ import annotations

import copy
import math
import random
import time
from pathlib import Path

import numpy as np

from ...runtime.onnx_encoder import load_tokenizer
from ...pipeline.encoding import EncodedWindow, pad_batch
from ...schemas import Task
from ..data import LabelledWindow
from ..loop import TrainConfig, optimizer_step, pick_device, seed_everything
from ...pipeline.windows import Window, WindowSettings
from .checkpoints import base_tokenizer_file, build_model, model_plan, save_checkpoint
from ...runtime.seq2seq.pairs import PairEncoder
from ...runtime.seq2seq.rank import predict_windows
from .training import batch_loss, length_bucketed, prompt_class_counts, training_pairs

PREDICT_BATCH_TOKENS, PREDICT_BATCH_SIZE = 16384, 64


class Seq2SeqRecipe:
    arch = "seq2seq"

    def __init__(self, base_model: str, tasks: list[Task], perceived: list[str], config: TrainConfig,
                 settings: WindowSettings, instructions: bool = True, log=print, work_dir: Path | None = None):
        import tempfile
        self.base_model, self.tasks, self.perceived = base_model, list(tasks), list(perceived)
        self.config, self.settings, self.log = config, settings, log
        self._tmp = tempfile.TemporaryDirectory() if work_dir is None else None
        self.tokenizer_file = base_tokenizer_file(base_model, Path(work_dir or self._tmp.name) / "tokenizer.json")
        self.tokenizer = load_tokenizer(self.tokenizer_file)
        seed_everything(config.seed)          # fresh weights (cross-attention) are part of the run
        self.model, self.new_parameters = build_model(base_model, self.tokenizer)
        self.plan = model_plan(self.model, self.tokenizer, self.tasks, self.perceived, instructions)
        self.pairs = PairEncoder(self.tokenizer, settings, self.plan)
        self.device = pick_device(config.device)

    def predict(self, windows: list[Window]) -> dict:
        from .torch_scoring import TorchRunner
        self.model.to(self.device)
        runner = TorchRunner(self.model, self.device, self.plan.max_labels)
        return predict_windows(self.pairs, windows, runner, PREDICT_BATCH_TOKENS, PREDICT_BATCH_SIZE).outputs

    def fit(self, train: list[LabelledWindow], valid: list[LabelledWindow], score_fn) -> dict:
        import torch

        from ..losses import TaskLoss
        from .torch_scoring import pair_scores
        config, model, device = self.config, self.model, self.device
        seed_everything(config.seed)
        window_ids, _ = self.pairs.window_ids([x.window for x in train])
        pairs = training_pairs(train, self.plan)
        epoch_pairs = [p for p in pairs for _ in range(config.emh_repeat if p.source == "emh" else 1)]
        losses = {j: TaskLoss(config.loss, counts) for j, counts in prompt_class_counts(pairs, self.plan).items()}
        self.log(f"seq2seq pairs: {len(pairs)} from {len(train)} windows, {len(self.plan.prompts)} prompts "
                 f"({'with' if self.plan.instructions else 'without'} instructions)")
        steps_per_epoch = math.ceil(len(epoch_pairs) / config.batch_size)
        total = steps_per_epoch * config.epochs
        if config.max_steps:
            total = min(total, config.max_steps)
        new = [p for n, p in model.named_parameters() if n in self.new_parameters]
        old = [p for n, p in model.named_parameters() if n not in self.new_parameters]
        groups = [{"params": old, "lr": config.lr}] + ([{"params": new, "lr": config.head_lr}] if new else [])
        optimizer = torch.optim.AdamW(groups, weight_decay=config.weight_decay)
        warmup = max(1, int(total * config.warmup_fraction))
        scheduler = torch.optim.lr_scheduler.LambdaLR(
            optimizer, lambda s: min((s + 1) / warmup, max(0.0, (total - s) / max(1, total - warmup))))
        lengths = np.array([len(ids) for ids in window_ids])
        rng = random.Random(config.seed)
        model.to(device)
        best, best_state, bad_epochs, step, history = -1.0, None, 0, 0, []
        for epoch in range(config.epochs):
            model.train()
            started, running = time.time(), 0.0
            for batch in length_bucketed(epoch_pairs, lengths, config.batch_size, rng):
                encoded = [self._pair(window_ids[p.window], p.prompt) for p in batch]
                padded = pad_batch(encoded, np.arange(len(encoded)), self.plan.pad_token_id)
                scores = pair_scores(model, torch.from_numpy(padded.input_ids).to(device),
                                     torch.from_numpy(padded.attention_mask).to(device),
                                     self.plan.decoder_batch(np.array([p.prompt for p in batch])),
                                     self.plan.max_labels)
                loss = batch_loss(scores, batch, self.plan, losses, config.perceived_weight)
                optimizer_step(model, loss, optimizer, scheduler)
                step += 1
                running += loss.item()
                if step % 50 == 0:
                    log_steps = step - epoch * steps_per_epoch
                    self.log(f"epoch {epoch + 1} step {step}/{total} loss {running / 50:.4f} "
                             f"({(time.time() - started) / log_steps:.2f} s/step)")
                    running = 0.0
                if config.max_steps and step >= config.max_steps:
                    break
            score = score_fn(self.predict([x.window for x in valid]), valid) if valid else 0.0
            history.append({"epoch": epoch + 1, "steps": step, "valid_score": score,
                            "seconds": time.time() - started})
            self.log(f"epoch {epoch + 1} done in {time.time() - started:.0f} s: validation score {score:.4f}")
            if not valid:                         # nothing to choose an epoch by: keep the last one
                pass
            elif score > best:
                best, bad_epochs = score, 0
                best_state = copy.deepcopy({k: v.detach().cpu() for k, v in model.state_dict().items()})
            else:
                bad_epochs += 1
                if bad_epochs > config.patience:
                    self.log("early stop: validation score stopped improving")
                    break
            if config.max_steps and step >= config.max_steps:
                break
        if best_state is not None:
            model.load_state_dict(best_state)
        model.to("cpu")
        return {"history": history, "best_valid_score": best, "pairs": len(pairs), "steps": step}

    def _pair(self, window_ids: np.ndarray, prompt: int) -> EncodedWindow:
        ids = self.pairs.pair_ids(window_ids, prompt)
        return EncodedWindow(ids, np.zeros(len(ids), dtype=np.float32), False)

    def set_calibration(self, bias: dict[str, list[float]]) -> None:
        """Offsets are added to the task logits by every runtime (stored with the prompt plan)."""
        self.plan.logit_offsets = {task: [float(x) for x in values] for task, values in bias.items()}

    def save(self, out_dir: Path, extra_config: dict) -> None:
        out_dir = Path(out_dir)
        config = {"arch": self.arch, "model_type": self.model.config.model_type,
                  "tasks": [t.to_dict() for t in self.tasks], "perceived": self.perceived,
                  "window": self.settings.to_dict(), "base_model": str(self.base_model),
                  "train_config": self.config.to_dict(), "seq2seq": self.plan.to_dict(), **extra_config}
        self.model.to("cpu")
        manifest = checkpoint_manifest(out_dir.name, config)
        save_checkpoint(self.model, self.tokenizer_file, out_dir, config, manifest)


def checkpoint_manifest(name: str, config: dict) -> dict:
    """What a checkpoint's manifest says beyond its files (shared with the ONNX export)."""
    return {"name": name, "tasks": config["tasks"],
            "perceived": {"dimensions": config.get("perceived", []), "derivation": PERCEIVED_DERIVATION},
            "window": config["window"], "seq2seq": config["seq2seq"],
            "base_model": Path(config.get("base_model", "")).name or config.get("base_model"),
            "calibration_bias": config.get("calibration_bias", {})}


PERCEIVED_DERIVATION = ("P(yes) of one yes/no instruction per dimension, trained with soft binary "
                        "cross-entropy against the dialogue's seeker-survey rating scaled to 0..1")
