"""The float fallback of an int8 bundle: int8 labels that sit near a tie are recomputed in float.

Why: int8 and fp32 labels disagree almost only where two labels' logits nearly tie (the int8 top-2
margin is small, research/int8_fallback.py), and no int8 scheme tried brings the disagreement under
1% (BENCHMARKS.md). So the int8 graph also returns its embedding layer's output, and windows whose
smallest top-2 margin is under a threshold run again through the encoder layers and heads in float.

Size: the fallback graph starts after the embedding layer (the vocabulary table, the largest
tensor, is not stored twice) and keeps its weights as fp16 with a Cast that ONNX Runtime folds when
the session loads (computation stays fp32). The embedding table both graphs read is int8 per row
(one scale per token, DequantizeLinear folded at load) instead of ORT's one scale for the table.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from ..runtime.float_fallback import EMBEDDED, MASK_INDEX

WORD_TABLE = "word_embeddings"


def embedding_node(model):
    nodes = [n for n in model.graph.node if n.op_type == "EmbedLayerNormalization"]
    if len(nodes) != 1:
        raise ValueError(f"expected one fused EmbedLayerNormalization node, found {len(nodes)}")
    return nodes[0]


def per_row_word_table(src: Path, dst: Path) -> str:
    """Store the word-embedding table as symmetric int8 with one scale per row; returns the embedding
    node's name (to keep out of dynamic quantisation, whose QEmbedLayerNormalization has one scale)."""
    import onnx
    from onnx import helper, numpy_helper
    model = onnx.load(str(src))
    node = embedding_node(model)
    inits = {t.name: t for t in model.graph.initializer}
    table = numpy_helper.to_array(inits[node.input[2]])
    scale = np.maximum(np.abs(table).max(axis=1), 1e-12) / 127.0
    quantised = np.clip(np.round(table / scale[:, None]), -127, 127).astype(np.int8)
    model.graph.initializer.remove(inits[node.input[2]])
    model.graph.initializer.extend([numpy_helper.from_array(quantised, f"{WORD_TABLE}_int8"),
                                    numpy_helper.from_array(scale.astype(np.float32), f"{WORD_TABLE}_scale"),
                                    numpy_helper.from_array(np.zeros(len(scale), np.int8), f"{WORD_TABLE}_zero")])
    model.graph.node.insert(0, helper.make_node("DequantizeLinear", [f"{WORD_TABLE}_int8", f"{WORD_TABLE}_scale",
                                                                     f"{WORD_TABLE}_zero"], [WORD_TABLE], axis=0,
                                                name="word_embeddings_dequantize"))
    node.input[2] = WORD_TABLE
    onnx.save(model, str(dst))
    return node.name


def _name_embedding_outputs(model) -> None:
    """Rename the embedding layer's output and mask index to EMBEDDED and MASK_INDEX, everywhere."""
    node = embedding_node(model)
    renamed = {node.output[0]: EMBEDDED, node.output[1]: MASK_INDEX}
    for other in model.graph.node:
        for i, value in enumerate(other.input):
            other.input[i] = renamed.get(value, value)
    node.output[0], node.output[1] = EMBEDDED, MASK_INDEX


def _embedding_value_infos() -> list:
    from onnx import TensorProto, helper
    return [helper.make_tensor_value_info(EMBEDDED, TensorProto.FLOAT, ["batch", "sequence", "hidden"]),
            helper.make_tensor_value_info(MASK_INDEX, TensorProto.INT32, ["batch"])]


def expose_embedding(src: Path, dst: Path) -> None:
    """Add the embedding layer's output and mask index to the (int8) graph's outputs."""
    import onnx
    model = onnx.load(str(src))
    _name_embedding_outputs(model)
    model.graph.output.extend(_embedding_value_infos())
    onnx.save(model, str(dst))


def fallback_graph(src: Path, dst: Path, outputs: list[str]) -> None:
    """The part of the float graph `src` after its embedding layer, weights stored as fp16."""
    import onnx
    from onnx import helper, numpy_helper
    model = onnx.load(str(src))
    _name_embedding_outputs(model)
    model.graph.value_info.extend(_embedding_value_infos())    # the extractor needs its inputs' types
    named = Path(dst).with_suffix(".named.onnx")
    onnx.save(model, str(named))
    onnx.utils.extract_model(str(named), str(dst), [EMBEDDED, MASK_INDEX, "target_mask"], outputs)
    named.unlink()
    model = onnx.load(str(dst))
    casts = []
    for tensor in list(model.graph.initializer):
        value = numpy_helper.to_array(tensor)
        if value.dtype == np.float32 and value.ndim >= 2:      # weight matrices; biases and norms stay fp32
            model.graph.initializer.remove(tensor)
            model.graph.initializer.append(numpy_helper.from_array(value.astype(np.float16), tensor.name + "_fp16"))
            casts.append(helper.make_node("Cast", [tensor.name + "_fp16"], [tensor.name], to=onnx.TensorProto.FLOAT))
    for cast in reversed(casts):
        model.graph.node.insert(0, cast)
    onnx.save(model, str(dst))
