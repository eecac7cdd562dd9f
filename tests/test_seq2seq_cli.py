"""Seq2seq end to end through the real CLI: train -> export -> score / eval, torch vs ONNX parity,
zero-shot scoring, and the encoder-decoder warm start without instructions (tiny local models)."""
from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
from click.testing import CliRunner

from conftest import REPO, SAMPLE
from test_seq2seq_builders import build_tiny_bert_base, build_tiny_t5, write_data_folder

TRAIN_ARGS = ["--max-steps", "3", "--set", "epochs=1", "--set", "batch_size=8", "--set", "max_tokens=48",
              "--device", "cpu"]


def invoke(args):
    from empathy_metric.cli.main import cli
    result = CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)
    return result


@pytest.fixture(scope="module")
def one_torch_thread():
    import torch
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def t5_folder(tmp_path_factory):
    return build_tiny_t5(tmp_path_factory.mktemp("t5"))


@pytest.fixture(scope="module")
def data_folder(tmp_path_factory):
    return write_data_folder(tmp_path_factory.mktemp("data"))


@pytest.fixture(scope="module")
def trained(t5_folder, data_folder, tmp_path_factory, one_torch_thread):
    """`empathy-score train --arch seq2seq` then `empathy-score export` of its checkpoint."""
    out = tmp_path_factory.mktemp("seq2seq")
    checkpoint, bundle = out / "checkpoint", out / "bundle"
    result = invoke(["train", "--set", "arch=seq2seq", "--set", f"base_model={t5_folder}", "--data", data_folder,
                     "-o", checkpoint, *TRAIN_ARGS])
    assert result.exit_code == 0, result.output
    result = invoke(["export", checkpoint, "-o", bundle, "--validate-limit", "12"])
    assert result.exit_code == 0, result.output
    return checkpoint, bundle


def sample_windows(bundle):
    from empathy_metric.dialogue import DEFAULT_AGENT_ROLES
    from empathy_metric.io.readers import ReaderOptions, read_dialogues
    from empathy_metric.pipeline.windows import windows_of
    return windows_of(read_dialogues(str(SAMPLE), ReaderOptions()), bundle.window, DEFAULT_AGENT_ROLES)


def test_train_writes_a_seq2seq_checkpoint_and_report(trained):
    checkpoint, _ = trained
    config = json.loads((checkpoint / "empathy_config.json").read_text())
    assert config["arch"] == "seq2seq" and config["model_type"] == "t5"
    assert config["seq2seq"]["instructions"] is True
    assert config["training"]["steps"] == 3
    report = json.loads((checkpoint / "eval.json").read_text())
    assert {"esconv_valid", "emh_test", "validation"} <= set(report)
    assert "esconv_strategy" in report["esconv_valid"]["tasks"]


def test_export_records_parity_with_torch(trained):
    from empathy_metric.bundle import load_bundle
    _, bundle_dir = trained
    bundle = load_bundle(bundle_dir)
    assert bundle.backend == "onnx-seq2seq"
    parity = bundle.manifest["export_validation"]
    assert parity["n_windows"] == 12 and parity["fp32"]["min_argmax_agreement"] == 1.0
    for name in ("logits.esconv_strategy", "logits.emh_explorations", "perceived"):
        assert parity["fp32"][name]["max_abs_diff"] < 1e-4
    prompts = bundle.manifest["seq2seq"]["prompts"]
    assert prompts[0]["name"] == "esconv_strategy:Question" and "Definition:" in prompts[0]["before"]


def test_onnx_matches_torch_and_ignores_batching(trained, one_torch_thread):
    from empathy_metric.bundle import load_bundle
    from empathy_metric.runtime import load_backend
    checkpoint, bundle_dir = trained
    onnx_bundle, torch_bundle = load_bundle(bundle_dir), load_bundle(checkpoint)   # a checkpoint is a bundle
    assert torch_bundle.backend == "torch-seq2seq"
    windows = sample_windows(onnx_bundle)
    onnx = load_backend(onnx_bundle).predict(windows)
    torch_out = load_backend(torch_bundle).predict(windows)
    small = load_backend(onnx_bundle, max_batch_tokens=400, max_batch_size=3).predict(windows[::-1])
    assert set(onnx.outputs) == set(torch_out.outputs) == {
        "logits.esconv_strategy", "logits.emh_emotional_reactions", "logits.emh_interpretations",
        "logits.emh_explorations", "perceived"}
    for name, value in onnx.outputs.items():
        assert np.abs(value - torch_out.outputs[name]).max() < 1e-4, name
        assert np.abs(value - small.outputs[name][::-1]).max() < 1e-5, name
        if name.startswith("logits."):
            assert (value.argmax(-1) == small.outputs[name][::-1].argmax(-1)).all()
    assert (onnx.truncated == torch_out.truncated).all()


def test_score_and_eval_commands_use_the_bundle(trained, data_folder, tmp_path):
    _, bundle_dir = trained
    out = tmp_path / "turns.jsonl"
    result = invoke(["score", SAMPLE, "-m", bundle_dir, "-o", out, "-o", tmp_path / "summary.json", "-q"])
    assert result.exit_code == 0, result.output
    records = [json.loads(line) for line in out.read_text().splitlines()]
    assert records and all(set(r["labels"]) == {"esconv_strategy", "emh_emotional_reactions",
                                                "emh_interpretations", "emh_explorations"} for r in records)
    assert all(0.0 <= v <= 1.0 for r in records for v in r["perceived"].values())
    assert all(abs(sum(r["probs"]["esconv_strategy"].values()) - 1) < 1e-4 for r in records)
    realtime = invoke(["score", SAMPLE, "-m", bundle_dir, "--no-future-context", "-o", tmp_path / "rt.jsonl",
                       "-q"])
    assert realtime.exit_code == 0, realtime.output
    result = invoke(["eval", "-m", bundle_dir, "--data", data_folder, "-o", tmp_path / "eval.json"])
    assert result.exit_code == 0, result.output
    assert "esconv_strategy" in json.loads((tmp_path / "eval.json").read_text())["esconv_valid"]["tasks"]


def test_onnx_scoring_imports_neither_torch_nor_transformers(trained):
    _, bundle_dir = trained
    code = ("import sys, json; from empathy_metric.api import Scorer; "
            "records = [json.loads(l) for l in open(sys.argv[2])]; "
            "result = Scorer.from_pretrained(sys.argv[1]).score(records); "
            "print(len(result.utterances), 'torch' in sys.modules, 'transformers' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", code, str(bundle_dir), str(SAMPLE)], capture_output=True,
                          text=True, cwd=REPO, timeout=300)
    assert done.returncode == 0, done.stderr
    n, torch_loaded, transformers_loaded = done.stdout.split()
    assert int(n) > 0 and torch_loaded == "False" and transformers_loaded == "False"


def test_zero_shot_scores_through_the_cli(t5_folder, tmp_path, one_torch_thread):
    out = tmp_path / "zero.jsonl"
    result = invoke(["zero-shot", t5_folder, SAMPLE, "-o", out, "-o", tmp_path / "zero.json", "-q"])
    assert result.exit_code == 0, result.output
    records = [json.loads(line) for line in out.read_text().splitlines()]
    assert records and all(len(r["labels"]) == 4 and len(r["perceived"]) == 2 for r in records)
    summary = json.loads((tmp_path / "zero.json").read_text())
    assert "zero-shot" in json.dumps(summary)
    with_model = invoke(["zero-shot", t5_folder, SAMPLE, "-m", "x"])      # the checkpoint is the model
    assert with_model.exit_code == 2 and "No such option" in with_model.output


def test_zero_shot_answers_the_customer_service_schema(t5_folder, one_torch_thread):
    from empathy_metric.schemas import CUSTOMER_SERVICE_INTENTS, customer_service_task
    from empathy_metric.training.seq2seq.zero_shot import zero_shot_scorer
    tasks = [customer_service_task(i) for i in CUSTOMER_SERVICE_INTENTS]
    scorer = zero_shot_scorer(t5_folder, tasks=tasks, perceived=[])
    records = [json.loads(line) for line in SAMPLE.read_text().splitlines()]
    result = scorer.score(records)
    assert set(result.utterances[0].labels) == {t.name for t in tasks}
    assert set(result.utterances[0].labels.values()) <= {"yes", "no"}


def test_warm_started_encoder_decoder_without_instructions(data_folder, tmp_path, one_torch_thread):
    base = build_tiny_bert_base(tmp_path / "bert")
    checkpoint = tmp_path / "ed"
    result = invoke(["train", "--set", "arch=seq2seq", "--set", f"base_model={base}", "--data", data_folder,
                     "-o", checkpoint, "--set", "instructions=false", *TRAIN_ARGS])
    assert result.exit_code == 0, result.output
    config = json.loads((checkpoint / "empathy_config.json").read_text())
    assert config["model_type"] == "encoder-decoder" and config["seq2seq"]["instructions"] is False
    assert config["seq2seq"]["prompts"][0]["before"] == "esconv question:"
    out = tmp_path / "turns.jsonl"
    result = invoke(["score", SAMPLE, "-m", checkpoint, "-o", out, "-q"])
    assert result.exit_code == 0, result.output
    assert out.read_text().count("\n") > 0
    cv = invoke(["cv", "--set", "arch=seq2seq", "--set", f"base_model={base}", "--data", data_folder, "-k", "2",
                 "-o", tmp_path / "cv.json", "--set", "instructions=false", *TRAIN_ARGS])
    assert cv.exit_code == 0, cv.output
    assert json.loads((tmp_path / "cv.json").read_text())["k"] == 2


def test_graphs_with_external_weights_are_renamed_for_the_bundle(tmp_path):
    """Optimum writes graphs over 2 GB with external weights; the bundle keeps them as <graph>.data."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    from empathy_metric.export.seq2seq import copy_graph
    weight = numpy_helper.from_array(np.arange(64, dtype=np.float32).reshape(8, 8), "weight")
    graph = helper.make_graph([helper.make_node("MatMul", ["x", "weight"], ["y"])], "g",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 8])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 8])], [weight])
    src, out = tmp_path / "src", tmp_path / "out"
    src.mkdir(), out.mkdir()
    onnx.save_model(helper.make_model(graph), str(src / "decoder_model.onnx"), save_as_external_data=True,
                    location="decoder_model.onnx_data", size_threshold=0)
    files = copy_graph(src, "decoder_model.onnx", out, "decoder")
    assert files == {"decoder": "decoder_model.onnx", "decoder_data": "decoder_model.onnx.data"}
    import onnxruntime
    session = onnxruntime.InferenceSession(str(out / "decoder_model.onnx"), providers=["CPUExecutionProvider"])
    x = np.ones((1, 8), dtype=np.float32)
    assert np.allclose(session.run(None, {"x": x})[0], x @ np.arange(64, dtype=np.float32).reshape(8, 8))
