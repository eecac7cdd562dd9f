"""SmoothQuant-style activation smoothing before dynamic int8 (Xiao et al. 2023).

Dynamic int8 quantises each MatMul input with one scale per tensor: a few channels with large values
(the outlier dimensions of BERT-family encoders) set that scale and every other channel loses
precision. Dividing input channel j by s_j and multiplying weight row j by s_j leaves the product
unchanged in exact arithmetic and moves the difficulty from the activations (one scale per tensor) to
the weights (one scale per output channel):  s_j = max|x_j|^alpha / max|W_j|^(1 - alpha),  with
max|x_j| measured on calibration windows.

In post-LayerNorm BERT a LayerNorm output also feeds the residual branch, so the division cannot be
folded into the LayerNorm weights: it is an explicit Mul in front of each smoothed node (elementwise,
cheap next to the MatMul it feeds).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

SMOOTHED_OPS = ("MatMul", "Attention")      # Attention: ORT's fused op, input 0 times the packed QKV weight


def smoothable_nodes(graph, exclude: set[str] = frozenset()) -> list:
    """MatMul/Attention nodes whose weight (input 1) is an initializer used by that node alone."""
    initializers = {i.name for i in graph.initializer}
    uses: dict[str, int] = {}
    for node in graph.node:
        for name in node.input:
            uses[name] = uses.get(name, 0) + 1
    return [n for n in graph.node if n.op_type in SMOOTHED_OPS and n.name not in exclude
            and n.input[1] in initializers and uses[n.input[1]] == 1 and n.input[0] not in initializers]


def activation_maxima(model, nodes: list, feeds: list[dict]) -> dict[str, np.ndarray]:
    """max |x| per channel (last axis) of each node's input 0, over the calibration feeds."""
    import onnx
    import onnxruntime as ort
    probe = onnx.ModelProto()
    probe.CopyFrom(model)
    names = sorted({n.input[0] for n in nodes})
    known = {o.name for o in probe.graph.output}
    probe.graph.output.extend(onnx.helper.make_tensor_value_info(name, onnx.TensorProto.FLOAT, None)
                              for name in names if name not in known)
    session = ort.InferenceSession(probe.SerializeToString(), providers=["CPUExecutionProvider"])
    maxima: dict[str, np.ndarray] = {}
    for feed in feeds:
        for name, value in zip(names, session.run(names, feed)):
            channel_max = np.abs(value).reshape(-1, value.shape[-1]).max(axis=0)
            maxima[name] = np.maximum(maxima[name], channel_max) if name in maxima else channel_max
    return maxima


def smoothing_scales(x_max: np.ndarray, weight: np.ndarray, alpha: float) -> np.ndarray:
    w_max = np.abs(weight).max(axis=1)                        # weight is [in, out]: one max per input row
    scales = x_max ** alpha / np.maximum(w_max, 1e-8) ** (1.0 - alpha)
    usable = (x_max > 0) & (w_max > 0) & np.isfinite(scales)
    return np.where(usable, np.maximum(scales, 1e-5), 1.0).astype(np.float32)


def smooth(src: Path, dst: Path, feeds: list[dict], alpha: float = 0.8, exclude: set[str] = frozenset()) -> int:
    """Writes the smoothed fp32 graph to `dst` (same outputs up to rounding); returns how many nodes
    were smoothed. `feeds`: calibration inputs, one window each (no padding in the statistics)."""
    import onnx
    from onnx import numpy_helper
    model = onnx.load(str(src))
    graph = model.graph
    nodes = smoothable_nodes(graph, exclude)
    maxima = activation_maxima(model, nodes, feeds)
    initializers = {i.name: i for i in graph.initializer}
    for node in nodes:
        weight_init = initializers[node.input[1]]
        weight = numpy_helper.to_array(weight_init)
        scales = smoothing_scales(maxima[node.input[0]], weight, alpha)
        weight_init.CopyFrom(numpy_helper.from_array((weight * scales[:, None]).astype(weight.dtype),
                                                     weight_init.name))
        inverse = f"{node.name}_smooth_inverse"
        smoothed = f"{node.input[0]}_smoothed_for_{node.name}"
        graph.initializer.append(numpy_helper.from_array(1.0 / scales, inverse))
        mul = onnx.helper.make_node("Mul", [node.input[0], inverse], [smoothed], name=f"{node.name}_smooth")
        graph.node.insert(list(graph.node).index(node), mul)     # keeps the node list topologically sorted
        node.input[0] = smoothed
    onnx.save(model, str(dst))
    return len(nodes)
