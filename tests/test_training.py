"""Issue 3: training overfits, losses match their definitions, export parity, CV never splits a dialogue."""
import json
import math

import numpy as np
import pytest
import torch
from click.testing import CliRunner

from builders import build_data_dir, build_encoder_with_tokenizer
from empathy_metric.cli.main import cli
from empathy_metric.pipeline.windows import WindowSettings
from empathy_metric.schemas import DEFAULT_TASKS, PERCEIVED_DIMENSIONS
from empathy_metric.training.data import esconv_windows, group_fraction, holdout_split, kfold_splits
from empathy_metric.training.encoder_recipe import EncoderRecipe
from empathy_metric.training.experiment import validation_score
from empathy_metric.training.loop import TrainConfig
from empathy_metric.training.losses import focal_loss, ldam_loss, ldam_margins


def test_focal_loss_matches_hand_computation():
    logits = torch.tensor([[2.0, 0.0, -1.0], [0.5, 0.5, 0.0]])
    target = torch.tensor([0, 2])
    p = torch.softmax(logits, -1)
    p0, p1 = p[0, 0].item(), p[1, 2].item()
    expected = (-(1 - p0) ** 2 * math.log(p0) - (1 - p1) ** 2 * math.log(p1)) / 2
    assert focal_loss(logits, target, gamma=2.0).item() == pytest.approx(expected, rel=1e-6)
    # gamma = 0 is plain cross-entropy
    assert focal_loss(logits, target, 0.0).item() == pytest.approx(
        torch.nn.functional.cross_entropy(logits, target).item(), rel=1e-6)


def test_ldam_margins_and_loss_match_definition():
    margins = ldam_margins([1000, 10, 1], max_margin=0.5)
    expected = np.array([1000 ** -0.25, 10 ** -0.25, 1.0]) * 0.5
    assert np.allclose(margins.numpy(), expected, atol=1e-6)
    logits = torch.tensor([[1.0, 0.2, -0.3]])
    target = torch.tensor([1])
    z = [1.0, 0.2 - expected[1], -0.3]
    s = 30.0
    hand = -math.log(math.exp(s * z[1]) / sum(math.exp(s * v) for v in z))
    assert ldam_loss(logits, target, margins, scale=s).item() == pytest.approx(hand, rel=1e-5)


def test_cv_splitter_never_puts_one_dialogue_on_both_sides(tmp_path):
    data = build_data_dir(tmp_path / "data", dialogues=20)
    labelled = esconv_windows(str(data / "esconv" / "train.json"), WindowSettings())
    seen_in_test = {}
    for fold, (train, test) in enumerate(kfold_splits(labelled, 5, seed=7)):
        assert not {x.group for x in train} & {x.group for x in test}
        assert len(train) + len(test) == len(labelled)
        for x in test:
            assert seen_in_test.setdefault(x.group, fold) == fold     # each dialogue tested in one fold only
    assert set(seen_in_test) == {x.group for x in labelled}
    kept, held = holdout_split(labelled, 0.3, seed=1)
    assert not {x.group for x in kept} & {x.group for x in held}
    assert 0 <= group_fraction("abc", 1) < 1 and group_fraction("abc", 1) == group_fraction("abc", 1)


def test_training_overfits_twenty_examples(tmp_path):
    base = build_encoder_with_tokenizer(tmp_path / "base")
    data = build_data_dir(tmp_path / "data", dialogues=5)
    labelled = esconv_windows(str(data / "esconv" / "train.json"), WindowSettings(max_tokens=64))[:20]
    config = TrainConfig(epochs=40, batch_size=10, lr=3e-3, head_lr=1e-2, patience=100, warmup_fraction=0.0,
                         device="cpu")
    recipe = EncoderRecipe(str(base), list(DEFAULT_TASKS), list(PERCEIVED_DIMENSIONS), config,
                           WindowSettings(max_tokens=64), log=lambda m: None)
    recipe.fit(labelled, labelled, validation_score(recipe.tasks))
    logits = recipe.predict([x.window for x in labelled])["logits.esconv_strategy"]
    gold = np.array([x.labels["esconv_strategy"] for x in labelled])
    assert (logits.argmax(-1) == gold).all()


def _train_and_export(tmp_path, *train_args):
    """Train a tiny model through the CLI, then export it (int8 + fp32): (runner, data, ckpt, bundle)."""
    base = build_encoder_with_tokenizer(tmp_path / "base")
    data = build_data_dir(tmp_path / "data", dialogues=8)
    runner = CliRunner()
    ckpt, bundle = tmp_path / "ckpt", tmp_path / "bundle"
    result = runner.invoke(cli, ["train", "-o", str(ckpt), "--set", f"base_model={base}", "--data", str(data),
                                 *train_args, "--set", "epochs=1", "--set", "max_tokens=64", "--device", "cpu"])
    assert result.exit_code == 0, result.output
    result = runner.invoke(cli, ["export", str(ckpt), "-o", str(bundle), "--precision", "int8", "--also", "fp32"])
    assert result.exit_code == 0, result.output
    return runner, data, ckpt, bundle


def test_train_export_eval_through_the_cli(tmp_path):
    runner, data, ckpt, bundle = _train_and_export(tmp_path)
    report = json.loads((ckpt / "eval.json").read_text())
    assert {"esconv_valid", "emh_test", "validation"} <= set(report)
    recipe = json.loads((ckpt / "empathy_config.json").read_text())["recipe"]      # what the run used, saved
    assert (recipe["epochs"], recipe["max_tokens"], recipe["device"], recipe["lr"]) == (1, 64, "cpu", 8e-5)
    manifest = json.loads((bundle / "manifest.json").read_text())
    assert manifest["export_validation"]["fp32"]["min_argmax_agreement"] == 1.0
    assert manifest["export_validation"]["fp32"]["logits.esconv_strategy"]["max_abs_diff"] < 1e-4
    assert "int8" in manifest["export_validation"]
    result = runner.invoke(cli, ["eval", "-m", str(bundle), "--data", str(data), "-o", str(tmp_path / "e.json"),
                                 "--record-validity"])
    assert result.exit_code == 0, result.output
    evaluated = json.loads((tmp_path / "e.json").read_text())
    validity = json.loads((bundle / "manifest.json").read_text())["validity"]    # what `metrics` and gates read
    rate = validity["metrics"]["esconv_strategy.rate.question"]
    assert rate["n_dialogues"] == evaluated["esconv_valid"]["rates"]["esconv_strategy.rate.question"]["n_dialogues"]
    assert {"dialogue_r", "dialogue_r_ci", "corpus_bias", "corpus_bias_ci", "data"} <= set(rate)
    assert {"perceived.empathy", "perceived.helpfulness", "emh_explorations.mean_level"} <= set(validity["metrics"])
    assert validity["floor"] == 0.4 and "--record-validity" in validity["measured_with"]
    assert "corpus" in result.output and "dialogue-level r" in result.output
    assert evaluated["esconv_valid"]["means"]["ESConv"]["accuracy"] >= 0.0
    assert "macro-F1" in result.output
    ci = evaluated["esconv_valid"]["f1_intervals"]["ESConv"]
    assert ci["low"] <= evaluated["esconv_valid"]["means"]["ESConv"]["f1"] <= ci["high"]
    assert "95% CI" in result.output
    fitted = runner.invoke(cli, ["fit-rates", str(bundle), "--data", str(data), "--estimator", "pcc"])
    assert fitted.exit_code == 0, fitted.output
    tasks = json.loads((bundle / "manifest.json").read_text())["tasks"]
    fitted_with = {t.get("rates", {}).get("estimator") for t in tasks}   # a task without validation labels
    assert "pcc" in fitted_with and fitted_with <= {"pcc", None}         # keeps counting labels
    scored = runner.invoke(cli, ["score", str(data / "esconv" / "valid.json"), "-m", str(bundle), "-q",
                                 "-o", str(tmp_path / "s.json")])
    assert scored.exit_code == 0, scored.output


def test_context_pooling_gives_the_heads_both_means(tmp_path):
    from transformers import BertModel

    from empathy_metric.training.model import MultiHeadEncoder
    base = build_encoder_with_tokenizer(tmp_path / "base")
    torch.manual_seed(0)
    model = MultiHeadEncoder(BertModel.from_pretrained(base), {"t": 3}, 0, pooling="target+context").eval()
    input_ids = torch.randint(5, 40, (2, 9))
    attention = torch.tensor([[1] * 9, [1] * 6 + [0] * 3])
    target = torch.zeros(2, 9)
    target[0, 3:6], target[1, 1:3] = 1.0, 1.0
    with torch.no_grad():
        (logits,) = model(input_ids, attention, target)
        hidden = model._hidden(input_ids, attention)
    for row, (t, c) in enumerate([((3, 6), [0, 1, 2, 6, 7, 8]), ((1, 3), [0, 3, 4, 5])]):
        features = torch.cat([hidden[row, t[0]:t[1]].mean(0), hidden[row, c].mean(0)])
        assert torch.allclose(logits[row], model.heads["t"](features), atol=1e-5)


def test_context_pooled_emh_model_trains_exports_and_evaluates(tmp_path):
    runner, data, ckpt, bundle = _train_and_export(tmp_path, "--data-set", "emh", "--set", "pooling=target+context")
    assert json.loads((ckpt / "empathy_config.json").read_text())["pooling"] == "target+context"
    validation = json.loads((bundle / "manifest.json").read_text())["export_validation"]
    assert validation["fp32"]["min_argmax_agreement"] == 1.0
    assert "logits.emh_interpretations" in validation["fp32"]
    assert "logits.esconv_strategy" not in validation["fp32"]       # an EMH model has EMH heads only
    result = runner.invoke(cli, ["eval", "-m", str(bundle), "--data", str(data), "--bootstrap", "0",
                                 "-o", str(tmp_path / "e.json")])
    assert result.exit_code == 0, result.output
    assert list(json.loads((tmp_path / "e.json").read_text())["emh_test"]["means"]) == ["EMH"]


def test_an_mpnet_style_base_model_gets_its_own_special_tokens_and_trains(tmp_path):
    from tokenizers import Tokenizer

    from builders import build_mpnet_with_tokenizer, build_tokenizer
    from empathy_metric.pipeline.encoding import WindowEncoder
    base = build_mpnet_with_tokenizer(tmp_path / "mpnet")
    tokenizer = Tokenizer.from_file(str(base / "tokenizer.json"))
    encoder = WindowEncoder(tokenizer, WindowSettings())
    assert [tokenizer.id_to_token(i) for i in (encoder.cls_id, encoder.sep_id, encoder.pad_id)] == \
        ["<s>", "</s>", "<pad>"]                    # though [CLS], [SEP] and [PAD] are in its vocabulary
    bert = Tokenizer.from_file(str(build_tokenizer(tmp_path / "bert" / "tokenizer.json")))
    bert_encoder = WindowEncoder(bert, WindowSettings())
    assert [bert.id_to_token(i) for i in (bert_encoder.cls_id, bert_encoder.sep_id, bert_encoder.pad_id)] == \
        ["[CLS]", "[SEP]", "[PAD]"]

    data = build_data_dir(tmp_path / "data", dialogues=6)
    result = CliRunner().invoke(cli, ["train", "-o", str(tmp_path / "ckpt"), "--set", f"base_model={base}",
                                      "--data", str(data), "--data-set", "emh", "--set", "epochs=1",
                                      "--set", "max_tokens=64", "--device", "cpu"])
    assert result.exit_code == 0, result.output
    assert "emh_test" in json.loads((tmp_path / "ckpt" / "eval.json").read_text())


def test_a_base_model_saved_in_fp16_is_trained_in_fp32(tmp_path):
    from transformers import AutoModel

    from empathy_metric.training.model import build_model
    base = build_encoder_with_tokenizer(tmp_path / "base")
    AutoModel.from_pretrained(base).half().save_pretrained(base, safe_serialization=True)
    assert AutoModel.from_pretrained(base, dtype="auto").dtype == torch.float16
    model = build_model(str(base), {"emh_explorations": 3}, perceived_dims=0)
    assert {p.dtype for p in model.parameters()} == {torch.float32}
