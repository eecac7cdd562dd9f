"""The seq2seq architecture as a recipe (see training/experiment.py): one model for all tasks, each
(window, prompt) pair an example, trained on the rank-classification logits."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from ...pipeline.encoding import EncodedWindow, load_tokenizer, pad_batch
from ...pipeline.windows import Window, WindowSettings
from ...runtime.seq2seq.pairs import PairEncoder
from ...runtime.seq2seq.rank import predict_windows
from ...schemas import Task
from ..data import LabelledWindow
from ..loop import TrainConfig, fit, pick_device, seed_everything
from .checkpoints import base_tokenizer_file, build_model, model_plan, save_checkpoint
from .training import batch_loss, prompt_class_counts, training_pairs

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
        """Each (labelled window, prompt) pair is a training unit of the shared loop (`loop.fit`); the
        loss works on the rank-classification scores. Weights that start untrained (a warm-started
        decoder's cross-attention) learn at `head_lr`, the rest at `lr`."""
        import torch

        from ..losses import TaskLoss
        from .torch_scoring import pair_scores
        config, model, device = self.config, self.model, self.device
        window_ids, _ = self.pairs.window_ids([x.window for x in train])
        pairs = training_pairs(train, self.plan)
        epoch_pairs = [p for p in pairs for _ in range(config.emh_repeat if p.source == "emh" else 1)]
        losses = {j: TaskLoss(config.loss, counts) for j, counts in prompt_class_counts(pairs, self.plan).items()}
        self.log(f"seq2seq pairs: {len(pairs)} from {len(train)} windows, {len(self.plan.prompts)} prompts "
                 f"({'with' if self.plan.instructions else 'without'} instructions)")
        new = [p for n, p in model.named_parameters() if n in self.new_parameters]
        old = [p for n, p in model.named_parameters() if n not in self.new_parameters]
        groups = [{"params": old, "lr": config.lr}] + ([{"params": new, "lr": config.head_lr}] if new else [])
        lengths = np.array([len(ids) for ids in window_ids])

        def loss_of(batch, _rng):
            encoded = [self._pair(window_ids[p.window], p.prompt) for p in batch]
            padded = pad_batch(encoded, np.arange(len(encoded)), self.plan.pad_token_id)
            scores = pair_scores(model, torch.from_numpy(padded.input_ids).to(device),
                                 torch.from_numpy(padded.attention_mask).to(device),
                                 self.plan.decoder_batch(np.array([p.prompt for p in batch])), self.plan.max_labels)
            return batch_loss(scores, batch, self.plan, losses, config.perceived_weight)

        def validate() -> float:
            return score_fn(self.predict([x.window for x in valid]), valid)
        history = fit(model, groups, epoch_pairs, loss_of, validate if valid else None, config, self.log,
                      length=lambda p: lengths[p.window] + p.prompt * 1e-3, log_every=50)
        return {**history, "pairs": len(pairs)}

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
