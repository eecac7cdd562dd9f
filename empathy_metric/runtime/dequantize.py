"""An fp32 graph from a dynamically quantised (int8) one: weights dequantised, activations float.

Why: the shipped bundle holds only the int8 graph (the size cap leaves no room for an fp16 one),
and int8 dynamic quantisation is a CPU technique: on ONNX Runtime's CUDA provider its
DynamicQuantizeLinear/QAttention nodes fall back to the CPU and one window runs per call. Undoing
the quantisation of the activations gives the fused fp32 graph the export path makes before
quantising (EmbedLayerNormalization, Attention, MatMul, SkipLayerNormalization, BiasGelu), with the
int8-rounded weights; `to_fp16` then converts it for CUDA, as the export converts an fp32 export.

Patterns rewritten (as ORT's quantize_dynamic writes them):
- QEmbedLayerNormalization            -> EmbedLayerNormalization with dequantised tables;
- DynamicQuantizeLinear -> QAttention  -> Attention(x, dequantised weights, bias, mask);
- DynamicQuantizeLinear -> MatMulInteger -> Cast -> Mul(scale product)  -> MatMul(x, dequantised W);
- DequantizeLinear of initializers      -> a float initializer.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np


def dequantize_graph(src: Path, dst: Path) -> dict:
    """Write the float graph of `src` to `dst`; returns {"num_heads", "hidden_size"} for to_fp16."""
    import onnx
    from onnx import helper, numpy_helper
    model = onnx.load(str(src))
    graph = model.graph
    weights = {t.name: numpy_helper.to_array(t) for t in graph.initializer}
    producer = {out: node for node in graph.node for out in node.output}
    consumers: dict[str, list] = {}
    for node in graph.node:
        for name in node.input:
            consumers.setdefault(name, []).append(node)
    new_weights: dict[str, np.ndarray] = {}
    replaced: dict[str, object] = {}      # first output of a quantised node -> its float replacement
    removed: set[int] = set()
    shape = {}

    def dequantised(q: str, scale: str, zero: str | None) -> str:
        values = weights[q].astype(np.float32)
        if zero:
            values = values - weights[zero].astype(np.float32)
        name = q.replace("_quantized", "") + "_dequantized"
        new_weights[name] = (values * weights[scale]).astype(np.float32)
        return name

    def float_input(quantized: str) -> str:
        """The float tensor a DynamicQuantizeLinear output was made from."""
        node = producer[quantized]
        if node.op_type != "DynamicQuantizeLinear":
            raise ValueError(f"{src}: {quantized} is not made by DynamicQuantizeLinear")
        return node.input[0]

    for node in graph.node:
        if node.op_type == "QEmbedLayerNormalization":
            i = list(node.input)
            tables = [dequantised(i[k], i[k + 6], i[k + 11]) if i[k] else "" for k in range(2, 7)]
            replaced[node.output[0]] = helper.make_node(
                "EmbedLayerNormalization", [i[0], i[1], *tables, i[7]], list(node.output),
                name=node.name.replace("_quant", ""), domain="com.microsoft", epsilon=_attr(node, "epsilon"))
        elif node.op_type == "QAttention":
            i = list(node.input)
            w = dequantised(i[1], i[4], i[7] if len(i) > 7 else None)
            shape = {"num_heads": _attr(node, "num_heads"), "hidden_size": int(weights[i[1]].shape[0])}
            attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
            replaced[node.output[0]] = helper.make_node(
                "Attention", [float_input(i[0]), w, i[2], i[5]], list(node.output),
                name=node.name.replace("_quant", ""), domain="com.microsoft", **attrs)
        elif node.op_type == "MatMulInteger":
            cast = _only(consumers[node.output[0]], "Cast", src)
            rescale = _only(consumers[cast.output[0]], "Mul", src)
            scales = producer[[n for n in rescale.input if n != cast.output[0]][0]]
            w_scale = [n for n in scales.input if n in weights][0]
            w = dequantised(node.input[1], w_scale, node.input[3] if len(node.input) > 3 else None)
            removed.update(id(n) for n in (cast, rescale, scales))
            replaced[node.output[0]] = helper.make_node(
                "MatMul", [float_input(node.input[0]), w], list(rescale.output),
                name=node.name.replace("_quant", ""))
        elif node.op_type == "DequantizeLinear" and all(i in weights for i in node.input if i):
            # an int8 initializer shared with float nodes (quantize_dynamic adds these): fold it
            i = list(node.input)
            scale = weights[i[1]]
            zero = weights[i[2]].astype(np.float32) if len(i) > 2 and i[2] else np.float32(0)
            if scale.ndim:                    # per-axis: line the scales up with that axis
                axis = _attr(node, "axis") if any(a.name == "axis" for a in node.attribute) else 1
                shape_of = [1] * weights[i[0]].ndim
                shape_of[axis] = -1
                scale, zero = scale.reshape(shape_of), np.reshape(zero, shape_of) if np.ndim(zero) else zero
            new_weights[node.output[0]] = ((weights[i[0]].astype(np.float32) - zero) * scale).astype(np.float32)
            removed.add(id(node))
    if not replaced:
        raise ValueError(f"{src}: no int8 nodes to dequantise")

    nodes = []
    for node in graph.node:
        if node.output and node.output[0] in replaced:
            nodes.append(replaced[node.output[0]])
        elif id(node) not in removed:
            nodes.append(node)
    # DynamicQuantizeLinear nodes and int8 initializers nothing reads any more
    used = {name for node in nodes for name in node.input} | {o.name for o in graph.output}
    nodes = [n for n in nodes if n.op_type != "DynamicQuantizeLinear" or any(o in used for o in n.output)]
    del graph.node[:]
    graph.node.extend(nodes)
    used = {name for node in nodes for name in node.input}
    kept = [t for t in graph.initializer if t.name in used]
    del graph.initializer[:]
    graph.initializer.extend(kept)
    graph.initializer.extend(numpy_helper.from_array(v, k) for k, v in new_weights.items())
    onnx.save(model, str(dst))
    return shape


def to_fp16(src: Path, dst: Path, num_heads: int, hidden_size: int) -> None:
    """fp16 for the CUDA provider, converted from the fp32 graph (inputs/outputs stay as they are)."""
    from onnxruntime.transformers.optimizer import optimize_model
    optimised = optimize_model(str(src), model_type="bert", num_heads=num_heads, hidden_size=hidden_size,
                               opt_level=0, use_gpu=True)
    optimised.convert_float_to_float16(keep_io_types=True)
    optimised.save_model_to_file(str(dst))


def fp16_from_int8(src: Path, dst: Path) -> None:
    """The CUDA graph of an int8 bundle: dequantised (above), then converted like an fp32 export."""
    import logging
    import tempfile

    optimizer_log = logging.getLogger("onnxruntime.transformers")
    level = optimizer_log.level
    # The optimizer warns that the graph's producer is the quantiser, not pytorch: expected here.
    optimizer_log.setLevel(logging.ERROR)
    try:
        with tempfile.TemporaryDirectory(prefix="empathy-dequant-") as tmp:
            fp32 = Path(tmp) / "model.fp32.onnx"
            shape = dequantize_graph(src, fp32)
            to_fp16(fp32, dst, shape["num_heads"], shape["hidden_size"])
    finally:
        optimizer_log.setLevel(level)


def _attr(node, name):
    from onnx import helper
    for a in node.attribute:
        if a.name == name:
            return helper.get_attribute_value(a)
    raise ValueError(f"node {node.name} has no attribute {name}")


def _only(nodes, op_type, src):
    if len(nodes) != 1 or nodes[0].op_type != op_type:
        raise ValueError(f"{src}: unexpected int8 pattern (wanted one {op_type} after MatMulInteger)")
    return nodes[0]
