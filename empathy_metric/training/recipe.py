"""The default model's recipe: MiniLM, ESConv + EMH, multi-task; trained, calibrated and evaluated.

Splits (all by dialogue; seeded hashes, independent of file order):
- ESConv train.json: 90% training, 10% validation (early stopping, calibration).
- EMH pairs: 15% held out for reporting (grouped by seeker post), the rest split 90/10 like ESConv.
- ESConv valid.json: reporting only.
"""
from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

import numpy as np

from ..encoding import WindowEncoder
from ..schemas import DEFAULT_TASKS, PERCEIVED_DIMENSIONS
from ..windows import WindowSettings
from .calibration import apply_bias, fit_bias
from .data import emh_examples, esconv_examples, holdout_split
from .evaluation import classification_report, grouped_means, perceived_dialogue_report
from .loop import TrainConfig, fit, predict
from .metrics import format_table
from .model import build_model, save_checkpoint

EMH_TEST_FRACTION, VALID_FRACTION, SPLIT_SEED = 0.15, 0.10, 2026
GROUPS = {"ESConv": ["esconv_strategy"],
          "EMH": ["emh_emotional_reactions", "emh_interpretations", "emh_explorations"]}


def load_tokenizer(path: Path):
    from tokenizers import Tokenizer
    tokenizer = Tokenizer.from_file(str(path))
    tokenizer.no_padding()
    tokenizer.no_truncation()
    return tokenizer


def validation_score(tasks):
    def score(outputs, examples):
        logits = {t.name: outputs[f"logits.{t.name}"] for t in tasks}
        reports = classification_report(tasks, logits, [e.labels for e in examples])
        return float(np.mean([m["f1"] for m in grouped_means(reports, GROUPS).values()]))
    return score


def evaluate_examples(model, tasks, examples, device="cpu", bias=None) -> dict:
    outputs = predict(model, examples, device)
    logits = {t.name: outputs[f"logits.{t.name}"] for t in tasks}
    if bias:
        logits = apply_bias(logits, bias)
    reports = classification_report(tasks, logits, [e.labels for e in examples])
    result = {"tasks": reports, "means": grouped_means(reports, GROUPS)}
    if "perceived" in outputs:
        rows = [i for i, e in enumerate(examples) if not np.isnan(e.perceived).all()]
        if rows:
            result["perceived"] = perceived_dialogue_report(
                list(PERCEIVED_DIMENSIONS), outputs["perceived"][rows],
                [examples[i].group for i in rows], np.stack([examples[i].perceived for i in rows]))
    return result


def train_default(encoder_path: str, data_dir: str, out_dir: str, config: TrainConfig,
                  settings: WindowSettings, calibrate: bool = True, log=print) -> dict:
    started = time.time()
    out = Path(out_dir)
    tasks = list(DEFAULT_TASKS)
    tokenizer = load_tokenizer(Path(encoder_path) / "tokenizer.json")
    encoder = WindowEncoder(tokenizer, settings)
    data = Path(data_dir)
    esconv = esconv_examples(str(data / "esconv" / "train.json"), encoder)
    emh_all = emh_examples(str(data / "emh"), encoder)
    emh, emh_test = holdout_split(emh_all, EMH_TEST_FRACTION, SPLIT_SEED)
    train, valid = holdout_split(esconv + emh, VALID_FRACTION, SPLIT_SEED)
    esconv_valid = esconv_examples(str(data / "esconv" / "valid.json"), encoder)
    log(f"examples: train {len(train)}, validation {len(valid)}, "
        f"EMH test {len(emh_test)}, ESConv valid.json {len(esconv_valid)}")
    model = build_model(encoder_path, {t.name: len(t.labels) for t in tasks}, len(PERCEIVED_DIMENSIONS))
    result = fit(model, tasks, train, valid, config, validation_score(tasks), log)
    bias = {}
    if calibrate:
        outputs = predict(model, valid, "cpu")
        bias = fit_bias(tasks, {t.name: outputs[f"logits.{t.name}"] for t in tasks},
                        [e.labels for e in valid])
        log(f"calibration biases: {json.dumps(bias)}")
    report = {"esconv_valid": evaluate_examples(model, tasks, esconv_valid, bias=bias),
              "emh_test": evaluate_examples(model, tasks, emh_test, bias=bias),
              "validation": evaluate_examples(model, tasks, valid, bias=bias)}
    if not calibrate:
        pass
    else:
        report["uncalibrated"] = {
            "esconv_valid": evaluate_examples(model, tasks, esconv_valid)["means"],
            "emh_test": evaluate_examples(model, tasks, emh_test)["means"]}
    apply_bias_to_heads(model, bias)
    checkpoint_config = {
        "tasks": [t.to_dict() for t in tasks], "perceived": list(PERCEIVED_DIMENSIONS),
        "window": settings.to_dict(), "base_model": str(encoder_path), "train_config": config.to_dict(),
        "calibration_bias": bias, "training": result, "seconds": time.time() - started,
        "splits": {"emh_test_fraction": EMH_TEST_FRACTION, "valid_fraction": VALID_FRACTION,
                   "seed": SPLIT_SEED}}
    save_checkpoint(model, out, checkpoint_config)
    shutil.copy(Path(encoder_path) / "tokenizer.json", out / "tokenizer.json")
    (out / "eval.json").write_text(json.dumps(report, indent=2))
    log(format_table({**{f"ESConv valid.json: {k}": v for k, v in report["esconv_valid"]["means"].items()},
                      **{f"EMH held-out 15%: {k}": v for k, v in report["emh_test"]["means"].items()}}))
    return report


def apply_bias_to_heads(model, bias: dict[str, list[float]]) -> None:
    """Bake calibration into the heads' biases, so exported graphs need no extra step."""
    import torch
    with torch.no_grad():
        for name, values in bias.items():
            model.heads[name].bias += torch.tensor(values, dtype=model.heads[name].bias.dtype)
