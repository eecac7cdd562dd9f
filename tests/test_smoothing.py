"""SmoothQuant-style smoothing before int8: the fp32 graph computes the same, the activations it
quantises are equalised, and `export --smooth-on` records it in the manifest."""
import json

import numpy as np
import onnx
from click.testing import CliRunner

from conftest import SAMPLE
from empathy_metric.cli.main import cli
from empathy_metric.export import encoder_graph
from empathy_metric.export.smoothing import activation_maxima, smooth, smoothable_nodes
from empathy_metric.io.readers import ReaderOptions, read_dialogues
from empathy_metric.pipeline.encoding import WindowEncoder, load_tokenizer
from empathy_metric.pipeline.windows import WindowSettings, windows_of


def _feeds(bundle):
    settings = WindowSettings.from_dict(json.loads((bundle / "manifest.json").read_text())["window"])
    windows = windows_of(list(read_dialogues(str(SAMPLE), ReaderOptions())), settings, {"assistant", "agent"})
    return encoder_graph.graph_feeds(WindowEncoder(load_tokenizer(bundle / "tokenizer.json"), settings).encode(windows))


def test_smoothing_keeps_fp32_outputs_and_equalises_quantised_inputs(tiny_bundle, tmp_path):
    graph = tiny_bundle / "model.onnx"
    feeds = _feeds(tiny_bundle)
    heads = set(encoder_graph.head_nodes(graph, [o.name for o in onnx.load(str(graph)).graph.output]))
    smoothed = tmp_path / "smoothed.onnx"
    count = smooth(graph, smoothed, feeds, alpha=1.0, exclude=heads)
    model = onnx.load(str(smoothed))
    nodes = smoothable_nodes(model.graph, heads)
    assert count == len(nodes) > 0 and not heads & {n.name for n in nodes}
    # Same function in fp32 (only rounding differs).
    before, after = encoder_graph.run_graph(graph, feeds), encoder_graph.run_graph(smoothed, feeds)
    for name in before:
        assert np.abs(before[name] - after[name]).max() < 1e-4, name
    # alpha = 1 moves each channel's whole range into the weights: every input the quantiser will
    # see has max |x| = 1 per channel on the calibration windows.
    for name, maxima in activation_maxima(model, nodes, feeds).items():
        used = maxima > 0
        assert np.allclose(maxima[used], 1.0, atol=1e-3), name


def test_export_with_smoothing_records_it(tiny_checkpoint, tmp_path):
    out = tmp_path / "bundle"
    result = CliRunner().invoke(cli, ["export", str(tiny_checkpoint), "-o", str(out), "--precision", "int8",
                                      "--validate-on", str(SAMPLE), "--smooth-on", str(SAMPLE),
                                      "--smooth-alpha", "0.8"])
    assert result.exit_code == 0, result.output
    validation = json.loads((out / "manifest.json").read_text())["export_validation"]
    assert validation["int8_smoothing"]["alpha"] == 0.8
    assert validation["int8_smoothing"]["calibration_windows"] > 0 and validation["int8_smoothing"]["smoothed_nodes"] > 0
    assert validation["int8"]["min_argmax_agreement"] > 0.5
    ops = {n.op_type for n in onnx.load(str(out / "model.onnx")).graph.node}
    assert "Mul" in ops and ({"DynamicQuantizeMatMul", "MatMulInteger", "QAttention"} & ops)
