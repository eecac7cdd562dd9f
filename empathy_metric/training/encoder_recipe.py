"""The encoder architecture as a recipe (see experiment.py): MiniLM-style encoder + one head per task."""
from __future__ import annotations

import functools
import shutil
from pathlib import Path

from ..pipeline.encoding import WindowEncoder, load_tokenizer
from ..pipeline.windows import Window, WindowSettings
from ..schemas import Task
from .contrast import attach_contrasts
from .data import LabelledWindow, encode_examples
from .distillation import soft_labels
from .loop import TrainConfig, fit_encoder, pick_device, seed_everything
from .model import build_model, predict_encoded, save_checkpoint
from .rationales import RATIONALE_TASKS


class EncoderRecipe:
    arch = "encoder"

    def __init__(self, encoder_path: str, tasks: list[Task], perceived: list[str], config: TrainConfig,
                 settings: WindowSettings, log=print, tokenizer_path: str | None = None, model=None,
                 teachers: list[str] = ()):
        self.encoder_path, self.tasks, self.perceived = encoder_path, list(tasks), list(perceived)
        self.config, self.settings, self.log = config, settings, log
        self.teachers = list(teachers)        # checkpoints whose soft labels it learns (distillation.py)
        self.tokenizer_path = Path(tokenizer_path or Path(encoder_path) / "tokenizer.json")
        self.encoder = WindowEncoder(load_tokenizer(self.tokenizer_path), settings)
        if model is not None:                 # an already trained model (checkpoint averaging)
            self.model = model
            return
        seed_everything(config.seed)          # head initialisation is part of the run: seed it too
        rationale_tasks = len(RATIONALE_TASKS) if config.rationale_weight else 0
        self.model = build_model(encoder_path, {t.name: len(t.labels) for t in tasks}, len(perceived),
                                 rationale_tasks, config.pooling)

    def fit(self, train: list[LabelledWindow], valid: list[LabelledWindow], score_fn) -> dict:
        examples = encode_examples(train, self.encoder)
        if self.config.contrast_weight and self.perceived:
            column = self.perceived.index("empathy") if "empathy" in self.perceived else None
            n = attach_contrasts(examples, train, self.encoder, self.config.seed, column,
                                 self.config.contrast_sources, self.config.contrast_kinds)
            self.log(f"contrastive perceived supervision: {n} training turns with worse and padded replies")
        if self.teachers and self.config.distill_weight:
            teacher = functools.partial(EncoderRecipe.teacher, device=self.config.device, log=self.log)
            soft = soft_labels(self.teachers, [x.window for x in train], self.config.distill_temperature,
                               teacher, self.log)
            for row, example in enumerate(examples):
                example.soft = {task: probs[row] for task, probs in soft.items()}
        history = fit_encoder(self.model, self.tasks, examples, encode_examples(valid, self.encoder), self.config,
                              score_fn, self.log, self.encoder.pad_id)
        return {**history, "teachers": self.teachers} if self.teachers else history

    def predict(self, windows: list[Window]) -> dict:
        return predict_encoded(self.model, self.encoder.encode(windows), pick_device(self.config.device),
                               self.encoder.pad_id)

    def set_calibration(self, bias: dict[str, list[float]]) -> None:
        """Bake the offsets into the heads' biases, so exported graphs need no extra step."""
        import torch
        with torch.no_grad():
            for name, values in bias.items():
                head = self.model.heads[name]
                head.bias += torch.tensor(values, dtype=head.bias.dtype, device=head.bias.device)

    def save(self, out_dir: Path, extra_config: dict) -> None:
        config = {"arch": self.arch, "tasks": [t.to_dict() for t in self.tasks], "perceived": self.perceived,
                  "window": self.settings.to_dict(), "pooling": self.model.pooling,
                  "base_model": str(self.encoder_path),
                  "train_config": self.config.to_dict(), **extra_config}
        self.model.to("cpu")
        save_checkpoint(self.model, out_dir, config)
        shutil.copy(self.tokenizer_path, out_dir / "tokenizer.json")

    @classmethod
    def averaged(cls, checkpoints: list[str], log=print) -> "EncoderRecipe":
        """A recipe holding the parameter mean of `checkpoints` (soup.py), ready to calibrate and save."""
        from .soup import average_checkpoints
        model, config = average_checkpoints(checkpoints)
        known = set(TrainConfig.__dataclass_fields__)
        train_config = TrainConfig(**{k: v for k, v in config.get("train_config", {}).items() if k in known})
        return cls(config["base_model"], [Task.from_dict(t) for t in config["tasks"]], config.get("perceived", []),
                   train_config, WindowSettings.from_dict(config["window"]), log,
                   tokenizer_path=str(Path(checkpoints[0]) / "tokenizer.json"), model=model)

    @classmethod
    def teacher(cls, checkpoint: str, device: str = "auto", log=print) -> "EncoderRecipe":
        """A trained checkpoint as a distillation teacher (distillation.py), run on `device` (the
        student's), not on the one it was trained on."""
        teacher = cls.averaged([checkpoint], log)
        teacher.config.device = device
        return teacher
