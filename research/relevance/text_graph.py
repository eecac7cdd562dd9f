"""ONNX for `perceived.relevance`: the bi-encoder's stack (biencoder.py) exported, smoothed and made
int8 like the rest of the bundle, as a graph of its own (`relevance.onnx`: `text_ids`, `text_mask` ->
`text_embedding`, unit length). It reads the shipped graph's int8 word table (Gather on the quantised
table, then DequantizeLinear), and both graphs keep that table in one external file
(`embeddings.data`): a second stack for 7 MB instead of 19, and neither graph runs the other's nodes.
"""
from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import numpy as np
import onnx
import torch
from onnx import TensorProto, helper, numpy_helper

from empathy_metric.export.encoder_graph import OPSET, optimise, quantise_int8
from empathy_metric.export.smoothing import smooth

sys.path.insert(0, str(Path(__file__).resolve().parent))
from biencoder import WORD_TABLE  # noqa: E402

PREFIX = "relevance/"
TEXT_IDS, TEXT_MASK, OUTPUT = "text_ids", "text_mask", "text_embedding"


class FromWordVectors(torch.nn.Module):
    """The stack from looked-up word vectors on: what is exported (the lookup is the shipped table's)."""

    def __init__(self, encoder):
        super().__init__()
        self.bert = encoder.bert

    def forward(self, word_vectors, mask):
        h = self.bert(inputs_embeds=word_vectors, attention_mask=mask).last_hidden_state
        m = mask[:, :, None].to(h.dtype)
        return torch.nn.functional.normalize((h * m).sum(1) / m.sum(1).clamp(min=1.0), dim=1)


def calibration_feeds(encoder, id_lists: list[list[int]]) -> list[dict]:
    """One feed per calibration text: its word vectors (the shared table's) and mask."""
    table = encoder.bert.embeddings.word_embeddings.weight.detach().numpy()
    return [{"word_vectors": table[np.array(ids)][None], TEXT_MASK: np.ones((1, len(ids)), np.int64)}
            for ids in id_lists]


def stack_graph(encoder, folder: Path, int8: bool = True, calibration: list[dict] | None = None,
                alpha: float = 0.8) -> onnx.ModelProto:
    """Exported, fused; for int8, smoothed on the calibration feeds first (SmoothQuant, as the
    shipped graph was), then dynamic int8."""
    encoder.eval()
    raw, fused, quantised = folder / "raw.onnx", folder / "fused.onnx", folder / "int8.onnx"
    example = (torch.zeros(1, 5, 384), torch.ones(1, 5, dtype=torch.int64))
    torch.onnx.export(FromWordVectors(encoder).eval(), example, str(raw), input_names=["word_vectors", TEXT_MASK],
                      output_names=[OUTPUT], opset_version=OPSET, do_constant_folding=True, dynamo=False,
                      dynamic_axes={"word_vectors": {0: "batch", 1: "sequence"}, TEXT_MASK: {0: "batch", 1: "sequence"},
                                    OUTPUT: {0: "batch"}})
    encoder.eval()               # export restores the wrapper's mode: never leave dropout on
    optimise(raw, fused, num_heads=12, hidden_size=384)
    if not int8:
        return onnx.load(str(fused))
    if calibration:
        smooth(fused, folder / "smoothed.onnx", calibration, alpha)
        fused = folder / "smoothed.onnx"
    quantise_int8(fused, quantised, exclude=[])
    return onnx.load(str(quantised))


def text_model(shipped: onnx.ModelProto, stack: onnx.ModelProto) -> onnx.ModelProto:
    """The relevance graph: inputs `text_ids`, `text_mask` (one turn, [CLS] ... [SEP]), output
    `text_embedding`; its word vectors are the shipped graph's int8 table (Gather, then
    DequantizeLinear), the same tensor by name, so both graphs can keep it in one external file."""
    table = {i.name: i for i in shipped.graph.initializer}
    names = [WORD_TABLE + suffix for suffix in ("_quantized", "_scale", "_zero_point")]
    if any(n not in table for n in names):
        raise ValueError(f"graph lacks {names[0]}: not an int8 encoder graph")
    keep = {TEXT_MASK: TEXT_MASK, OUTPUT: OUTPUT, "word_vectors": PREFIX + "word_vectors", "": ""}

    def renamed(name: str) -> str:
        return keep.get(name, PREFIX + name)

    nodes = [helper.make_node("Gather", [names[0], TEXT_IDS], [PREFIX + "word_codes"], axis=0, name=PREFIX + "lookup"),
             helper.make_node("DequantizeLinear", [PREFIX + "word_codes", names[1], names[2]],
                              [PREFIX + "word_vectors"], name=PREFIX + "dequantise")]
    for node in stack.graph.node:
        node.name = PREFIX + node.name
        node.input[:] = [renamed(i) for i in node.input]
        node.output[:] = [renamed(o) for o in node.output]
        nodes.append(node)
    initializers = [table[n] for n in names]
    for init in stack.graph.initializer:
        init.name = renamed(init.name)
        initializers.append(init)
    graph = helper.make_graph(
        nodes, "relevance", [helper.make_tensor_value_info(TEXT_IDS, TensorProto.INT64, ["batch", "sequence"]),
                             helper.make_tensor_value_info(TEXT_MASK, TensorProto.INT64, ["batch", "sequence"])],
        [helper.make_tensor_value_info(OUTPUT, TensorProto.FLOAT, ["batch", 384])], initializers)
    model = helper.make_model(graph, opset_imports=list(stack.opset_import), ir_version=shipped.ir_version)
    onnx.checker.check_model(model)
    return model


def externalise(model: onnx.ModelProto, name: str, location: str, folder: Path) -> None:
    """Store initializer `name` in `folder/location` (written once; a second graph must hold the same
    bytes) and point the graph at it: two graphs share one copy of the word table."""
    tensor = next(i for i in model.graph.initializer if i.name == name)
    data = numpy_helper.to_array(tensor).tobytes()
    path = folder / location
    if path.exists():
        if path.read_bytes() != data:
            raise ValueError(f"{path} holds other bytes than {name}")
    else:
        path.write_bytes(data)
    tensor.ClearField("raw_data")
    tensor.data_location = TensorProto.EXTERNAL
    del tensor.external_data[:]
    for key, value in (("location", location), ("offset", "0"), ("length", str(len(data)))):
        tensor.external_data.add(key=key, value=value)


def write_graphs(shipped: onnx.ModelProto, encoder, folder: Path, model_name: str, relevance_name: str,
                 table_name: str, calibration: list[dict] | None = None, alpha: float = 0.8) -> None:
    """The shipped graph (its word table moved to `table_name`, values unchanged) and the relevance
    graph reading the same table, written into the bundle `folder`."""
    with tempfile.TemporaryDirectory() as tmp:
        relevance = text_model(shipped, stack_graph(encoder, Path(tmp), True, calibration, alpha))
    shipped = onnx.ModelProto.FromString(shipped.SerializeToString())
    (folder / table_name).unlink(missing_ok=True)
    for model, name in ((shipped, model_name), (relevance, relevance_name)):
        externalise(model, WORD_TABLE + "_quantized", table_name, folder)
        onnx.save(model, str(folder / name))
