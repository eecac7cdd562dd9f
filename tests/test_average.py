"""Checkpoint averaging: a real parameter mean, calibration taken out before and fitted after."""
import json
from pathlib import Path

import torch
from click.testing import CliRunner
from safetensors.torch import load_file

from builders import build_data_dir, build_encoder_with_tokenizer
from empathy_metric.cli.main import cli
from empathy_metric.training.model import HEADS_FILE, load_checkpoint
from empathy_metric.training.soup import average_checkpoints


def _train(runner, base, data, out, seed):
    result = runner.invoke(cli, ["train", "-o", str(out), "--set", f"base_model={base}", "--data", str(data),
                                 "--set", "epochs=1", "--set", "max_tokens=64", "--device", "cpu", "--seed", str(seed)])
    assert result.exit_code == 0, result.output
    return out


def _uncalibrated_heads(ckpt):
    heads = load_file(str(ckpt / HEADS_FILE))
    bias = json.loads((ckpt / "empathy_config.json").read_text()).get("calibration_bias") or {}
    for name, values in bias.items():
        heads[f"heads.{name}.bias"] -= torch.tensor(values)
    return heads


def test_average_is_the_parameter_mean_and_is_recalibrated(tmp_path):
    base = build_encoder_with_tokenizer(tmp_path / "base")
    data = build_data_dir(tmp_path / "data", dialogues=8)
    runner = CliRunner()
    a = _train(runner, base, data, tmp_path / "a", seed=1)
    b = _train(runner, base, data, tmp_path / "b", seed=2)
    result = runner.invoke(cli, ["average", str(a), str(b), "-o", str(tmp_path / "soup"), "--data", str(data)])
    assert result.exit_code == 0, result.output
    soup = tmp_path / "soup"
    config = json.loads((soup / "empathy_config.json").read_text())
    assert config["training"] == {"averaged_from": [str(a), str(b)]}
    assert {"esconv_valid", "emh_test", "validation"} <= set(json.loads((soup / "eval.json").read_text()))

    # Encoder weights: the mean of the two runs.
    model_a, _ = load_checkpoint(a)
    model_b, _ = load_checkpoint(b)
    model_s, _ = load_checkpoint(soup)
    for (name, pa), pb, ps in zip(model_a.encoder.named_parameters(), model_b.encoder.parameters(),
                                  model_s.encoder.parameters()):
        assert torch.allclose(ps, (pa + pb) / 2, atol=1e-6), name
    # Heads: the mean of the uncalibrated heads, plus the soup's own calibration offsets.
    ha, hb, hs = _uncalibrated_heads(a), _uncalibrated_heads(b), _uncalibrated_heads(soup)
    for name in ha:
        assert torch.allclose(hs[name], (ha[name] + hb[name]) / 2, atol=1e-6), name


def test_averaging_a_checkpoint_with_itself_changes_nothing_but_calibration(tmp_path):
    base = build_encoder_with_tokenizer(tmp_path / "base")
    data = build_data_dir(tmp_path / "data", dialogues=8)
    a = _train(CliRunner(), base, data, tmp_path / "a", seed=1)
    config = json.loads((a / "empathy_config.json").read_text())
    config["calibration_bias"] = {"esconv_strategy": [0.0, 1.0, 0, 0, 0, 0, 0, -0.5]}
    (a / "empathy_config.json").write_text(json.dumps(config))
    model, _ = average_checkpoints([str(a), str(a)])
    original, _ = load_checkpoint(a)
    expected = original.heads["esconv_strategy"].bias - torch.tensor([0.0, 1.0, 0, 0, 0, 0, 0, -0.5])
    assert torch.allclose(model.heads["esconv_strategy"].bias, expected, atol=1e-6)
    assert torch.equal(model.encoder.embeddings.word_embeddings.weight,
                       original.encoder.embeddings.word_embeddings.weight)


def test_averaging_refuses_checkpoints_of_different_recipes(tmp_path):
    import shutil
    base = build_encoder_with_tokenizer(tmp_path / "base")
    data = build_data_dir(tmp_path / "data", dialogues=8)
    runner = CliRunner()
    a = _train(runner, base, data, tmp_path / "a", seed=1)
    b = tmp_path / "b"
    shutil.copytree(a, b)
    config = json.loads((b / "empathy_config.json").read_text())
    config["window"]["max_tokens"] = 48
    (b / "empathy_config.json").write_text(json.dumps(config))
    result = runner.invoke(cli, ["average", str(a), str(b), "-o", str(tmp_path / "soup"), "--data", str(data)])
    assert result.exit_code != 0 and "window differ" in result.output


def test_greedy_soup_adds_best_first_and_keeps_only_what_does_not_hurt():
    from empathy_metric.training.soup import greedy_soup
    table = {("a",): 0.60, ("b",): 0.70, ("c",): 0.65, ("d",): 0.50,
             ("b", "c"): 0.72, ("b", "c", "a"): 0.71, ("b", "c", "d"): 0.72}
    calls = []

    def score(subset):
        calls.append(tuple(subset))
        return table[tuple(subset)]
    chosen, trail = greedy_soup(["a", "b", "c", "d"], score, log=lambda _: None)
    assert chosen == ["b", "c", "d"]          # a lowered the score; d tied it, and ties are kept
    assert [(t["added"], t["kept"]) for t in trail] == [("b", True), ("c", True), ("a", False), ("d", True)]
    assert calls[4:] == [("b", "c"), ("b", "c", "a"), ("b", "c", "d")]


def test_greedy_average_through_the_cli_records_its_choice(tmp_path):
    base = build_encoder_with_tokenizer(tmp_path / "base")
    data = build_data_dir(tmp_path / "data", dialogues=8)
    runner = CliRunner()
    runs = [str(_train(runner, base, data, tmp_path / name, seed)) for name, seed in (("a", 1), ("b", 2), ("c", 3))]
    result = runner.invoke(cli, ["average", *runs, "--greedy", "-o", str(tmp_path / "soup"), "--data", str(data)])
    assert result.exit_code == 0, result.output
    history = json.loads((tmp_path / "soup" / "empathy_config.json").read_text())["training"]
    trail = history["greedy"]
    assert sorted(t["added"] for t in trail) == sorted(runs)
    assert trail[0]["alone"] == max(t["alone"] for t in trail)
    assert history["averaged_from"] == [t["added"] for t in trail if t["kept"]]
    # The saved encoder is the mean of exactly the kept checkpoints.
    kept = [load_checkpoint(Path(c))[0] for c in history["averaged_from"]]
    soup, _ = load_checkpoint(tmp_path / "soup")
    for name, param in soup.encoder.named_parameters():
        mean = torch.stack([dict(m.encoder.named_parameters())[name] for m in kept]).mean(0)
        assert torch.allclose(param, mean, atol=1e-6), name
