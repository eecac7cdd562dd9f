"""ONNX edits for `perceived.understanding`: expose the frozen features of the shipped int8 graph, and
append the trained head to it (the `perceived` output gains a column; the other columns are the
same tensor as before, concatenated, so they stay byte-identical).

Tensor names are those of minilm-empathy-v4's graph (found with `onnx`: the perceived head reads
`/Div_output_0`, the target tokens' mean of the last layer's LayerNorm output).
"""
from __future__ import annotations

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

HIDDEN = "/encoder/encoder/layer.5/output/LayerNorm/LayerNormalization_output_0"   # [batch, seq, 384]
TARGET_POOL = "/Div_output_0"            # [batch, 384]: what the shipped heads read
UNSQUEEZE_AXES = "/Constant_output_0"    # the constant the graph unsqueezes target_mask with
SUM_AXES = "onnx::ReduceSum_752"         # [1]: the sequence axis
CLIP_MIN = "/Constant_1_output_0"        # 1.0: a mask sum below it is clipped (no division by 0)
CONTEXT_POOL = "understanding/context_pool"
OLD_PERCEIVED = "perceived.v4"


def _check(model: onnx.ModelProto) -> None:
    names = {o for n in model.graph.node for o in n.output}
    missing = [n for n in (HIDDEN, TARGET_POOL, UNSQUEEZE_AXES, SUM_AXES, CLIP_MIN) if n not in names]
    if missing:
        raise ValueError(f"graph lacks tensor(s) {missing}: not minilm-empathy-v4's graph")


def add_context_pool(model: onnx.ModelProto) -> str:
    """Nodes pooling the context tokens (attention_mask minus target_mask) like the target is pooled."""
    _check(model)
    p = "understanding/"
    model.graph.node.extend([
        helper.make_node("Cast", ["attention_mask"], [p + "attention_float"], to=TensorProto.FLOAT),
        helper.make_node("Sub", [p + "attention_float", "target_mask"], [p + "context_mask"]),
        helper.make_node("Unsqueeze", [p + "context_mask", UNSQUEEZE_AXES], [p + "context_mask_3d"]),
        helper.make_node("Mul", [HIDDEN, p + "context_mask_3d"], [p + "context_masked"]),
        helper.make_node("ReduceSum", [p + "context_masked", SUM_AXES], [p + "context_sum"], keepdims=0),
        helper.make_node("ReduceSum", [p + "context_mask_3d", SUM_AXES], [p + "context_count"], keepdims=0),
        helper.make_node("Clip", [p + "context_count", CLIP_MIN, ""], [p + "context_count_clipped"]),
        helper.make_node("Div", [p + "context_sum", p + "context_count_clipped"], [CONTEXT_POOL]),
    ])
    return CONTEXT_POOL


def feature_graph(model: onnx.ModelProto) -> onnx.ModelProto:
    """A copy whose extra outputs `feat.target` and `feat.context` are the frozen features."""
    model = onnx.ModelProto.FromString(model.SerializeToString())
    context = add_context_pool(model)
    model.graph.node.extend([helper.make_node("Identity", [TARGET_POOL], ["feat.target"]),
                             helper.make_node("Identity", [context], ["feat.context"])])
    model.graph.output.extend([helper.make_tensor_value_info(n, TensorProto.FLOAT, ["batch", 384])
                               for n in ("feat.target", "feat.context")])
    return model


def with_understanding_head(model: onnx.ModelProto, weights: dict[str, np.ndarray]) -> onnx.ModelProto:
    """A copy with the head on [target, context, target*context] (standardised by `mean`/`scale`):
    sigmoid(relu(x W1 + b1) w2 + b2), appended to `perceived` as its last column (float32 weights)."""
    model = onnx.ModelProto.FromString(model.SerializeToString())
    context = add_context_pool(model)
    p = "understanding/"
    for node in model.graph.node:          # the old perceived tensor keeps its values under a new name
        node.output[:] = [OLD_PERCEIVED if o == "perceived" else o for o in node.output]
    for name in ("mean", "scale", "w1", "b1", "w2", "b2"):
        model.graph.initializer.append(numpy_helper.from_array(weights[name].astype(np.float32), p + name))
    model.graph.node.extend([
        helper.make_node("Mul", [TARGET_POOL, context], [p + "product"]),
        helper.make_node("Concat", [TARGET_POOL, context, p + "product"], [p + "features"], axis=1),
        helper.make_node("Sub", [p + "features", p + "mean"], [p + "centred"]),
        helper.make_node("Div", [p + "centred", p + "scale"], [p + "standardised"]),
        helper.make_node("MatMul", [p + "standardised", p + "w1"], [p + "hidden_linear"]),
        helper.make_node("Add", [p + "hidden_linear", p + "b1"], [p + "hidden_biased"]),
        helper.make_node("Relu", [p + "hidden_biased"], [p + "hidden"]),
        helper.make_node("MatMul", [p + "hidden", p + "w2"], [p + "logit_linear"]),
        helper.make_node("Add", [p + "logit_linear", p + "b2"], [p + "logit"]),
        helper.make_node("Sigmoid", [p + "logit"], [p + "score"]),
        helper.make_node("Concat", [OLD_PERCEIVED, p + "score"], ["perceived"], axis=1),
    ])
    for output in model.graph.output:
        if output.name == "perceived":
            dims = output.type.tensor_type.shape.dim
            if len(dims) == 2 and dims[1].HasField("dim_value"):
                dims[1].dim_value += 1
    return model
