"""`export --fallback-margin`: the int8 bundle ships a float graph that re-scores near-tie windows.
Real exports of the tiny checkpoint, real ONNX Runtime sessions, real CLI runs."""
import json

import numpy as np
import onnx
import pytest
from click.testing import CliRunner

from conftest import SAMPLE
from empathy_metric.bundle import load_bundle
from empathy_metric.cli.main import cli
from empathy_metric.runtime.cuda_graph import cuda_graph
from empathy_metric.runtime.float_fallback import smallest_margin


def _export(checkpoint, out, *flags):
    result = CliRunner().invoke(cli, ["export", str(checkpoint), "-o", str(out), "--validate-on", str(SAMPLE),
                                      *flags])
    assert result.exit_code == 0, result.output
    return json.loads((out / "manifest.json").read_text())


@pytest.fixture(scope="module")
def exports(tiny_checkpoint, tmp_path_factory):
    """fp32; int8 whose fallback re-scores every window (margin beyond any logit gap); int8 whose
    fallback never runs (margin 0); plain int8."""
    root = tmp_path_factory.mktemp("fallback")
    made = {"fp32": _export(tiny_checkpoint, root / "fp32", "--precision", "fp32"),
            "always": _export(tiny_checkpoint, root / "always", "--fallback-margin", "1e6"),
            "never": _export(tiny_checkpoint, root / "never", "--fallback-margin", "0"),
            "int8": _export(tiny_checkpoint, root / "int8")}
    return root, made


def _scores(root, name, tmp_path, *flags):
    out = tmp_path / f"{name}{len(flags)}{'-'.join(flags)}.jsonl"
    result = CliRunner().invoke(cli, ["score", str(SAMPLE), "-m", str(root / name), "-q", "-o", str(out), *flags])
    assert result.exit_code == 0, result.output
    return out.read_bytes()


def test_manifest_records_the_fallback_and_its_validation(exports):
    root, made = exports
    always = made["always"]
    assert always["files"]["model_fallback"] == "model.fallback.onnx" and (root / "always" / "model.fallback.onnx").exists()
    assert always["runtime"]["float_fallback_margin"] == 1e6
    assert always["export_validation"]["int8_fallback"]["rerun_share"] == 1.0
    assert made["never"]["export_validation"]["int8_fallback"]["rerun_share"] == 0.0
    assert "model_fallback" not in made["int8"]["files"] and "float_fallback_margin" not in made["int8"]["runtime"]
    # Every window re-scored in float: labels as torch's, outputs within fp16 weight rounding.
    assert always["export_validation"]["int8"]["min_argmax_agreement"] == 1.0
    assert all(v["max_abs_diff"] < 1e-2 for v in always["export_validation"]["int8"].values() if isinstance(v, dict))
    # The fallback stores its weights as fp16 and starts after the embedding layer.
    graph = onnx.load(str(root / "always" / "model.fallback.onnx")).graph
    assert {i.name for i in graph.input} == {"embedded", "mask_index", "target_mask"}
    assert not {n.op_type for n in graph.node} & {"EmbedLayerNormalization", "DynamicQuantizeLinear"}
    assert any(t.data_type == onnx.TensorProto.FLOAT16 for t in graph.initializer)


def test_scores_follow_the_margin(exports, tmp_path):
    root, _ = exports
    fp32 = [json.loads(line) for line in _scores(root, "fp32", tmp_path).decode().splitlines()]
    always = [json.loads(line) for line in _scores(root, "always", tmp_path).decode().splitlines()]
    assert len(always) == len(fp32) > 10
    labels = lambda r: {k: v for k, v in r.items() if k.endswith(("strategy", "reactions", "interpretations", "explorations"))}  # noqa: E731
    assert [labels(r) for r in always] == [labels(r) for r in fp32]
    # Margin 0: the fallback never runs, the scores are the int8 graph's own (same per-row table).
    never = _scores(root, "never", tmp_path)
    assert never != _scores(root, "always", tmp_path)


def test_fallback_scores_are_byte_identical_across_batching_and_threads(exports, tmp_path):
    root, made = exports
    # a margin that re-scores some windows and not others
    bundle = root / "always"
    manifest = json.loads((bundle / "manifest.json").read_text())
    gaps = _int8_margins(bundle)
    manifest["runtime"]["float_fallback_margin"] = float(np.median(gaps))
    (bundle.parent / "some").mkdir(exist_ok=True)
    for f in bundle.iterdir():
        (bundle.parent / "some" / f.name).write_bytes(f.read_bytes())
    from empathy_metric.bundle import write_manifest
    write_manifest(bundle.parent / "some", {k: v for k, v in manifest.items() if k not in ("sha256", "schema_version")})
    reference = _scores(root, "some", tmp_path)
    assert reference not in (_scores(root, "always", tmp_path), _scores(root, "never", tmp_path))
    for flags in [("--batch-size", "64"), ("--max-batch-tokens", "150"), ("--threads", "1"), ("--threads", "2")]:
        assert _scores(root, "some", tmp_path, *flags) == reference, flags


def _int8_margins(bundle):
    from empathy_metric.export import encoder_graph
    from empathy_metric.io.readers import ReaderOptions, read_dialogues
    from empathy_metric.pipeline.encoding import WindowEncoder, load_tokenizer
    from empathy_metric.pipeline.windows import windows_of
    loaded = load_bundle(bundle)
    windows = windows_of(read_dialogues(str(SAMPLE), ReaderOptions()), loaded.window, {"assistant", "agent"})
    encoded = WindowEncoder(load_tokenizer(loaded.file("tokenizer")), loaded.window).encode(windows)
    from empathy_metric.runtime.ort_session import make_session
    session = make_session(loaded.file("model"), "cpu", 1)
    names = [o.name for o in session.get_outputs() if o.name.startswith("logits.")]
    rows = [dict(zip(names, session.run(names, feed))) for feed in encoder_graph.graph_feeds(encoded)]
    return np.concatenate([smallest_margin(r) for r in rows])


def test_cuda_graph_of_a_fallback_bundle_is_derived(exports, tmp_path, monkeypatch):
    root, _ = exports
    monkeypatch.setenv("EMPATHY_METRIC_CACHE", str(tmp_path / "cache"))
    path, single_row = cuda_graph(load_bundle(root / "always"))
    graph = onnx.load(str(path)).graph
    assert single_row is False
    assert not {"DequantizeLinear", "DynamicQuantizeLinear", "MatMulInteger"} & {n.op_type for n in graph.node}
