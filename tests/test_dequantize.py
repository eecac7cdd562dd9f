"""The CUDA graph of an int8 bundle: weights dequantised, activations float, then fp16; cached."""
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import numpy_helper

from conftest import SAMPLE
from empathy_metric.bundle import load_bundle
from empathy_metric.dialogue import DEFAULT_AGENT_ROLES
from empathy_metric.export import encoder_graph
from empathy_metric.io.readers import ReaderOptions, read_dialogues
from empathy_metric.pipeline.encoding import WindowEncoder, load_tokenizer
from empathy_metric.pipeline.windows import windows_of
from empathy_metric.runtime.cuda_graph import cuda_graph
from empathy_metric.runtime.dequantize import dequantize_graph
from empathy_metric.training.model import load_checkpoint, predict_encoded

INT8_OPS = {"DynamicQuantizeLinear", "MatMulInteger", "QAttention", "QEmbedLayerNormalization"}


def _feeds(bundle, batch_size):
    windows = windows_of(read_dialogues(str(SAMPLE), ReaderOptions()), bundle.window, DEFAULT_AGENT_ROLES)
    encoder = WindowEncoder(load_tokenizer(bundle.file("tokenizer")), bundle.window)
    return encoder_graph.graph_feeds(encoder.encode(windows), batch_size)


def test_dequantised_graph_is_float_and_closer_to_torch_than_int8(tiny_checkpoint, tiny_int8_bundle, tmp_path):
    bundle = load_bundle(tiny_int8_bundle)
    source = onnx.load(str(bundle.file("model")))
    assert INT8_OPS & {n.op_type for n in source.graph.node}

    shape = dequantize_graph(bundle.file("model"), tmp_path / "deq.onnx")
    graph = onnx.load(str(tmp_path / "deq.onnx")).graph
    assert not INT8_OPS & {n.op_type for n in graph.node}
    assert {"Attention", "EmbedLayerNormalization", "MatMul"} <= {n.op_type for n in graph.node}
    assert not [t.name for t in graph.initializer if numpy_helper.to_array(t).dtype.kind in "iu"
                and t.name.endswith(("_quantized", "_zero_point"))]
    model, config = load_checkpoint(Path(tiny_checkpoint))
    assert shape["hidden_size"] == model.encoder.config.hidden_size
    assert shape["num_heads"] == model.encoder.config.num_attention_heads

    windows = windows_of(read_dialogues(str(SAMPLE), ReaderOptions()), bundle.window, DEFAULT_AGENT_ROLES)
    reference = predict_encoded(model, WindowEncoder(load_tokenizer(bundle.file("tokenizer")), bundle.window)
                                .encode(windows), "cpu")
    dequantised = encoder_graph.run_graph(tmp_path / "deq.onnx", _feeds(bundle, 8))
    int8 = encoder_graph.run_graph(bundle.file("model"), _feeds(bundle, 1))
    for name, ref in reference.items():
        # Only the weights' int8 rounding is left: nearer to torch than int8 with quantised activations.
        error = np.abs(dequantised[name] - ref).max()
        assert error <= np.abs(int8[name] - ref).max() + 1e-6, name
        assert error < 0.05 * max(1.0, np.abs(ref).max()), name


def test_cuda_graph_is_derived_once_and_cached(tiny_int8_bundle, tmp_path, monkeypatch):
    monkeypatch.setenv("EMPATHY_METRIC_CACHE", str(tmp_path / "cache"))
    bundle = load_bundle(tiny_int8_bundle)
    path, single_row = cuda_graph(bundle)
    assert single_row is False and path.parent == tmp_path / "cache"
    model = onnx.load(str(path))
    assert any(t.data_type == onnx.TensorProto.FLOAT16 for t in model.graph.initializer)
    # inputs and outputs keep their types (the backend feeds int64/float32 and reads float32)
    assert [i.type.tensor_type.elem_type for i in model.graph.input] == \
        [onnx.TensorProto.INT64, onnx.TensorProto.INT64, onnx.TensorProto.FLOAT]
    assert {o.type.tensor_type.elem_type for o in model.graph.output} == {onnx.TensorProto.FLOAT}
    written = path.stat().st_mtime_ns
    assert cuda_graph(bundle) == (path, False)
    assert path.stat().st_mtime_ns == written
    assert [p.name for p in path.parent.iterdir()] == [path.name]     # no temporary file left


def test_fp32_bundle_runs_its_own_graph_on_cuda(tiny_bundle):
    bundle = load_bundle(tiny_bundle)
    assert cuda_graph(bundle) == (bundle.file("model"), False)


def test_a_graph_without_int8_nodes_is_refused(tmp_path):
    node = onnx.helper.make_node("Relu", ["x"], ["y"])
    graph = onnx.helper.make_graph([node], "g", [onnx.helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT, [1])],
                                   [onnx.helper.make_tensor_value_info("y", onnx.TensorProto.FLOAT, [1])])
    onnx.save(onnx.helper.make_model(graph), str(tmp_path / "plain.onnx"))
    with pytest.raises(ValueError, match="no int8 nodes"):
        dequantize_graph(tmp_path / "plain.onnx", tmp_path / "out.onnx")
