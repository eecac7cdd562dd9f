"""ONNX for the perceived stack (stack_train.py): exported, smoothed and made int8 like the rest of the
bundle, then spliced into the shipped graph after the shared layer it reads. `perceived` keeps its
columns; only the first (empathy) now comes from the stack, the others are the same tensor as before.
"""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import onnx
import torch
from onnx import helper, numpy_helper

from empathy_metric.export.encoder_graph import OPSET, quantise_int8
from empathy_metric.export.smoothing import smooth

sys.path.insert(0, str(Path(__file__).resolve().parent))
from stack_cache import layer_output  # noqa: E402

PREFIX = "perceived_stack/"
HIDDEN, OUTPUT = "hidden", "empathy"
SHARED_PERCEIVED = "perceived.shared"


class EmpathyScore(torch.nn.Module):
    """What is exported: sigmoid of the stack's empathy logit, [batch, 1]."""

    def __init__(self, stack):
        super().__init__()
        self.stack = stack

    def forward(self, hidden, attention_mask, target_mask):
        return torch.sigmoid(self.stack(hidden, attention_mask.to(hidden.dtype), target_mask)[:, :1])


def stack_graph(stack, folder: Path, calibration: list[dict], alpha: float = 0.8) -> onnx.ModelProto:
    """Exported, smoothed on the calibration feeds (SmoothQuant, as the shipped graph was), dynamic int8."""
    stack.eval()
    raw, smoothed, quantised = folder / "raw.onnx", folder / "smoothed.onnx", folder / "int8.onnx"
    example = (torch.zeros(1, 5, 384), torch.ones(1, 5, dtype=torch.int64), torch.ones(1, 5))
    axes = {0: "batch", 1: "sequence"}
    torch.onnx.export(EmpathyScore(stack).eval(), example, str(raw), opset_version=OPSET, dynamo=False,
                      input_names=[HIDDEN, "attention_mask", "target_mask"], output_names=[OUTPUT],
                      do_constant_folding=True,
                      dynamic_axes={HIDDEN: axes, "attention_mask": axes, "target_mask": axes, OUTPUT: {0: "batch"}})
    stack.eval()                 # export restores the wrapper's mode: never leave dropout on
    smooth(raw, smoothed, calibration, alpha)
    quantise_int8(smoothed, quantised, exclude=[])
    return onnx.load(str(quantised))


def spliced(shipped: onnx.ModelProto, stack: onnx.ModelProto, branch: int) -> onnx.ModelProto:
    """The shipped graph with the stack reading layer `branch`'s output; `perceived`[:, 0] from the stack."""
    model = onnx.ModelProto.FromString(shipped.SerializeToString())
    produced = {o for n in model.graph.node for o in n.output}
    if layer_output(branch) not in produced or "perceived" not in {o.name for o in model.graph.output}:
        raise ValueError(f"graph lacks {layer_output(branch)} or a `perceived` output")
    keep = {HIDDEN: layer_output(branch), "attention_mask": "attention_mask", "target_mask": "target_mask", "": ""}

    def renamed(name: str) -> str:
        return keep.get(name, PREFIX + name)

    for node in model.graph.node:          # the shared head's tensor keeps its values under a new name
        node.output[:] = [SHARED_PERCEIVED if o == "perceived" else o for o in node.output]
    for node in stack.graph.node:
        node.name = PREFIX + node.name
        node.input[:] = [renamed(i) for i in node.input]
        node.output[:] = [renamed(o) for o in node.output]
        model.graph.node.append(node)
    for init in stack.graph.initializer:
        init.name = renamed(init.name)
        model.graph.initializer.append(init)
    for name, value in (("starts", [1]), ("ends", [np.iinfo(np.int64).max]), ("axes", [1])):
        model.graph.initializer.append(numpy_helper.from_array(np.array(value, np.int64), PREFIX + name))
    model.graph.node.extend([
        helper.make_node("Slice", [SHARED_PERCEIVED, PREFIX + "starts", PREFIX + "ends", PREFIX + "axes"],
                         [PREFIX + "other_columns"], name=PREFIX + "other_columns"),
        helper.make_node("Concat", [renamed(OUTPUT), PREFIX + "other_columns"], ["perceived"], axis=1,
                         name=PREFIX + "perceived"),
    ])
    domains = {o.domain for o in model.opset_import}
    model.opset_import.extend([o for o in stack.opset_import if o.domain not in domains])
    onnx.checker.check_model(model)
    return model
