"""Distillation: the loss is T^2 * KL, soft labels are the teachers' tempered probabilities, and a
student trained on soft labels alone takes on its teacher's decisions."""
import functools
import json
import math
from dataclasses import replace

import numpy as np
import pytest
import torch
from click.testing import CliRunner

from builders import build_checkpoint, build_data_dir, build_encoder_with_tokenizer
from empathy_metric.cli.main import cli
from empathy_metric.pipeline.windows import WindowSettings
from empathy_metric.schemas import DEFAULT_TASKS, PERCEIVED_DIMENSIONS
from empathy_metric.training.data import esconv_windows
from empathy_metric.training.distillation import soft_labels
from empathy_metric.training.encoder_recipe import EncoderRecipe
from empathy_metric.training.losses import distillation_loss
from empathy_metric.training.experiment import validation_score
from empathy_metric.training.loop import TrainConfig


def test_distillation_loss_is_t_squared_kl():
    student, teacher = torch.tensor([[1.0, 0.0, -1.0]]), torch.tensor([[0.2, 0.5, 0.3]])
    t = 2.0
    q = torch.softmax(student / t, -1)[0].tolist()
    kl = sum(p * math.log(p / qi) for p, qi in zip(teacher[0].tolist(), q))
    assert distillation_loss(student, teacher, t).item() == pytest.approx(t * t * kl, rel=1e-5)
    same = torch.softmax(student / t, -1)
    assert distillation_loss(student, same, t).item() == pytest.approx(0.0, abs=1e-6)


def test_soft_labels_are_the_mean_of_tempered_teacher_probabilities(tmp_path):
    data = build_data_dir(tmp_path / "data", dialogues=3)
    windows = [x.window for x in esconv_windows(str(data / "esconv" / "train.json"), WindowSettings())][:6]
    a, b = build_checkpoint(tmp_path / "a", seed=1), build_checkpoint(tmp_path / "b", seed=2)
    logits = {name: EncoderRecipe.averaged([str(c)], log=lambda m: None).predict(windows)
              for name, c in (("a", a), ("b", b))}
    soft = soft_labels([str(a), str(b)], windows, 2.0, EncoderRecipe.teacher, log=lambda m: None)
    assert set(soft) == {t.name for t in DEFAULT_TASKS}
    for task, probs in soft.items():
        expected = np.mean([torch.softmax(torch.from_numpy(logits[n][f"logits.{task}"]) / 2.0, -1).numpy()
                            for n in ("a", "b")], axis=0)
        assert probs.shape == (6, len(expected[0])) and np.allclose(probs, expected, atol=1e-6)


def test_a_student_on_soft_labels_alone_takes_its_teachers_view(tmp_path):
    base = build_encoder_with_tokenizer(tmp_path / "base")
    teacher = build_checkpoint(tmp_path / "teacher", seed=5, max_tokens=64)
    data = build_data_dir(tmp_path / "data", dialogues=5)
    labelled = esconv_windows(str(data / "esconv" / "train.json"), WindowSettings(max_tokens=64))[:20]
    windows = [x.window for x in labelled]
    taught = soft_labels([str(teacher)], windows, 1.0, EncoderRecipe.teacher, log=lambda m: None)
    # Validation gold = the teacher's decisions, so the kept epoch is the one closest to the teacher.
    as_teacher = [replace(x, labels={t: int(taught[t][i].argmax()) for t in x.labels}) for i, x in enumerate(labelled)]
    config = TrainConfig(epochs=30, batch_size=10, lr=3e-3, head_lr=1e-2, patience=100, warmup_fraction=0.0,
                         device="cpu", distill_weight=1.0, distill_temperature=1.0)

    def student():
        return EncoderRecipe(str(base), list(DEFAULT_TASKS), list(PERCEIVED_DIMENSIONS), config,
                             WindowSettings(max_tokens=64), log=lambda m: None, teachers=[str(teacher)])

    def divergence(recipe):
        out = recipe.predict(windows)
        return np.mean([distillation_loss(torch.from_numpy(out[f"logits.{t}"]), torch.from_numpy(taught[t]),
                                          1.0).item() for t in taught])
    before = divergence(student())
    trained = student()
    history = trained.fit(labelled, as_teacher, validation_score(trained.tasks))
    assert history["teachers"] == [str(teacher)]
    # The gold labels carry no weight (distill weight 1): the student moves to the random teacher.
    assert divergence(trained) < 0.2 * before


def test_cv_students_learn_from_their_own_folds_teachers(tmp_path):
    base = build_encoder_with_tokenizer(tmp_path / "base")
    data = build_data_dir(tmp_path / "data", dialogues=9)
    common = ["--set", f"base_model={base}", "--data", str(data), "--set", "epochs=1", "--set", "max_tokens=64",
              "--device", "cpu", "-k", "3", "--data-set", "emh"]
    runner = CliRunner()
    result = runner.invoke(cli, ["cv", "-o", str(tmp_path / "t.json"), "--save-folds", str(tmp_path / "t"), *common])
    assert result.exit_code == 0, result.output
    result = runner.invoke(cli, ["cv", "-o", str(tmp_path / "s.json"), "--save-folds", str(tmp_path / "s"),
                                 "--set", f"teachers=['{tmp_path / 't'}']", *common])
    assert result.exit_code == 0, result.output
    for fold in range(3):
        config = json.loads((tmp_path / "s" / f"fold-{fold}" / "empathy_config.json").read_text())
        assert config["training"]["teachers"] == [str(tmp_path / "t" / f"fold-{fold}")]
        assert config["train_config"]["distill_weight"] == 0.5


def test_a_teacher_trained_on_a_gpu_teaches_on_the_students_device(tmp_path):
    data = build_data_dir(tmp_path / "data", dialogues=3)
    windows = [x.window for x in esconv_windows(str(data / "esconv" / "train.json"), WindowSettings())][:4]
    teacher = build_checkpoint(tmp_path / "teacher", seed=3)
    config_file = teacher / "empathy_config.json"
    config = json.loads(config_file.read_text())
    config.setdefault("train_config", {})["device"] = "cuda"      # as written by `train --device cuda`
    config_file.write_text(json.dumps(config))
    soft = soft_labels([str(teacher)], windows, 1.0, functools.partial(EncoderRecipe.teacher, device="cpu"),
                       log=lambda m: None)
    assert all(np.allclose(p.sum(-1), 1.0, atol=1e-5) for p in soft.values())
