"""The multi-head encoder as one ONNX graph, then optimised and quantised with ONNX Runtime's tools.

Route: `torch.onnx.export` (the TorchScript exporter, which Optimum itself drives for BERT models).
Optimum's `main_export` knows the plain BERT encoder but not our target-turn pooling and task heads;
exporting those separately would split one forward pass into two sessions plus numpy glue. The
TorchScript exporter (not dynamo) is chosen because ORT's transformer optimizer fuses attention only
on its graphs (measured, ../shared/STACK.md).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

INPUT_NAMES = ["input_ids", "attention_mask", "target_mask"]
OPSET = 17


def export_fp32(model, example: dict, path: Path) -> None:
    import torch
    model.eval()
    names = model.output_names()
    dynamic = {n: {0: "batch", 1: "sequence"} for n in INPUT_NAMES}
    dynamic.update({n: {0: "batch"} for n in names})
    with torch.no_grad():
        torch.onnx.export(model, (example["input_ids"], example["attention_mask"], example["target_mask"]),
                          str(path), input_names=INPUT_NAMES, output_names=names,
                          dynamic_axes=dynamic, opset_version=OPSET, do_constant_folding=True,
                          dynamo=False)


def optimise(src: Path, dst: Path, num_heads: int, hidden_size: int) -> None:
    """ORT's transformer optimizer: fused attention, layer norm and GELU (fp32, CPU-friendly)."""
    from onnxruntime.transformers.optimizer import optimize_model
    optimised = optimize_model(str(src), model_type="bert", num_heads=num_heads, hidden_size=hidden_size,
                               opt_level=0)
    optimised.save_model_to_file(str(dst))


def head_nodes(path: Path, output_names: list[str]) -> list[str]:
    """Names of the nodes between the pooled vector and the outputs (kept fp32: small, sensitive)."""
    import onnx
    graph = onnx.load(str(path), load_external_data=False).graph
    producers = {o: n for n in graph.node for o in n.output}
    keep, frontier = set(), list(output_names)
    while frontier:                      # walk back from each output until the pooling division
        node = producers.get(frontier.pop())
        if node is None or node.name in keep or node.op_type == "Div":
            continue
        keep.add(node.name)
        frontier.extend(node.input)
    return sorted(keep)


def quantise_int8(src: Path, dst: Path, exclude: list[str]) -> None:
    """ORT dynamic int8, per-channel weights (halves the drift of per-tensor, STACK.md)."""
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic
    quantize_dynamic(str(src), str(dst), weight_type=QuantType.QInt8, per_channel=True,
                     nodes_to_exclude=exclude,
                     extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT})


def graph_feeds(encoded, batch_size: int = 1) -> list[dict]:
    """Feeds for a graph's inputs from encoded windows; one window per feed by default (as int8 runs,
    and as calibration statistics want: no padding)."""
    from ..pipeline.encoding import pad_batch
    feeds = []
    for start in range(0, len(encoded), batch_size):
        b = pad_batch(encoded, np.arange(start, min(start + batch_size, len(encoded))), 0)
        feeds.append({"input_ids": b.input_ids, "attention_mask": b.attention_mask,
                      "target_mask": b.target_mask})
    return feeds


def run_graph(path: Path, batches: list[dict], threads: int | None = None) -> dict[str, np.ndarray]:
    from ..runtime.ort_session import make_session
    session = make_session(path, "cpu", threads)
    names = [o.name for o in session.get_outputs()]
    chunks: dict[str, list] = {n: [] for n in names}
    for feeds in batches:
        for name, value in zip(names, session.run(names, feeds)):
            chunks[name].append(value)
    return {n: np.concatenate(v) for n, v in chunks.items()}
