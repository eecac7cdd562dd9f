"""Per-token activation scales for the MatMuls that drift most under dynamic int8 (issue 22, item 2).

ORT's dynamic quantiser gives each MatMul input one scale for the whole tensor, so one token with
large values (the GELU outputs that feed the FFN output projection) costs every other token its
precision. Here chosen MatMuls are rewritten to quantise each token's row with its own symmetric
scale (max |x_row| / 127), multiply int8 by per-column int8 weights (MatMulInteger) and rescale:

    y = (MatMulInteger(round(x / s_row), W_q) * s_row) * s_col

A row's result depends on that row alone, so the rewritten MatMuls are also batch-invariant. The
other MatMuls keep the shipped path (smoothed, alpha 0.8, then ORT dynamic int8).

Usage: python research/per_token_int8.py FP32_OPT_BUNDLE [N_WINDOWS] [--groups=ffn_out,ffn_in,attn_out]
                                        [--unsigned] [--weights-only]
  --unsigned: uint8 activations with zero point 128 (MLAS's u8s8 kernels) instead of int8
  --weights-only: the chosen MatMuls stay fp32 with int8-rounded weights (which side's rounding drifts)
Prints one JSON line per variant (research/int8_variants.py's format).
"""
from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import numpy as np

from int8_variants import bundle_windows, fp32_reference, report, run_graph_rowwise
from empathy_metric.export.encoder_graph import head_nodes, quantise_int8
from empathy_metric.export.smoothing import smooth

GROUPS = {"ffn_out": lambda m: "/output/dense" in m and "attention" not in m,
          "ffn_in": lambda m: "intermediate/dense" in m,
          "attn_out": lambda m: "attention/output/dense" in m}


def per_token_rewrite(src: Path, dst: Path, names: set[str], unsigned: bool = False,
                      weights_only: bool = False) -> int:
    """Replace the fp32 MatMuls `names` (weight = an initializer) by per-token int8 subgraphs
    (`weights_only`: keep them fp32 MatMuls with int8-rounded weights)."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper
    model = onnx.load(str(src))
    graph = model.graph
    weights = {i.name: i for i in graph.initializer}
    nodes, rewritten = [], 0
    shared = [numpy_helper.from_array(np.array([-1], dtype=np.int64), "pt_axes"),
              numpy_helper.from_array(np.array(127.0, dtype=np.float32), "pt_127"),
              numpy_helper.from_array(np.array(1e-12, dtype=np.float32), "pt_eps"),
              numpy_helper.from_array(np.array(128.0, dtype=np.float32), "pt_128"),
              numpy_helper.from_array(np.array(128, dtype=np.uint8), "pt_zp")]
    for node in graph.node:
        if node.op_type != "MatMul" or node.name not in names or node.input[1] not in weights:
            nodes.append(node)
            continue
        w = numpy_helper.to_array(weights[node.input[1]]).astype(np.float32)        # [K, N]
        col_scale = np.maximum(np.abs(w).max(axis=0), 1e-12) / 127.0
        wq = np.clip(np.round(w / col_scale), -127, 127).astype(np.int8)
        if weights_only:         # int8-rounded weights, fp32 activations: whose rounding drifts?
            weights[node.input[1]].CopyFrom(numpy_helper.from_array(wq * col_scale.astype(np.float32),
                                                                    node.input[1]))
            nodes.append(node)
            rewritten += 1
            continue
        p = f"pt{rewritten}_"
        graph.initializer.extend([numpy_helper.from_array(wq, p + "wq"),
                                  numpy_helper.from_array(col_scale.astype(np.float32), p + "wscale")])
        x, y = node.input[0], node.output[0]
        ops = [helper.make_node("Abs", [x], [p + "abs"]),
               helper.make_node("ReduceMax", [p + "abs"], [p + "max"], axes=[-1], keepdims=1),
               helper.make_node("Div", [p + "max", "pt_127"], [p + "s0"]),
               helper.make_node("Max", [p + "s0", "pt_eps"], [p + "s"]),
               helper.make_node("Div", [x, p + "s"], [p + "xs"]),
               helper.make_node("Round", [p + "xs"], [p + "xr"])]
        if unsigned:
            ops += [helper.make_node("Add", [p + "xr", "pt_128"], [p + "xu"]),
                    helper.make_node("Cast", [p + "xu"], [p + "xq"], to=TensorProto.UINT8),
                    helper.make_node("MatMulInteger", [p + "xq", p + "wq", "pt_zp"], [p + "acc"])]
        else:
            ops += [helper.make_node("Cast", [p + "xr"], [p + "xq"], to=TensorProto.INT8),
                    helper.make_node("MatMulInteger", [p + "xq", p + "wq"], [p + "acc"])]
        ops += [helper.make_node("Cast", [p + "acc"], [p + "accf"], to=TensorProto.FLOAT),
                helper.make_node("Mul", [p + "accf", p + "s"], [p + "row"]),
                helper.make_node("Mul", [p + "row", p + "wscale"], [y])]
        nodes.extend(ops)
        rewritten += 1
    graph.initializer.extend(shared)
    del graph.node[:]
    graph.node.extend(nodes)
    onnx.save(model, str(dst))
    return rewritten


def main(bundle: Path, limit: int, groups: list[str], unsigned: bool, weights_only: bool) -> None:
    import onnx
    graph_path = bundle / "model.onnx"
    encoded, calibration = bundle_windows(bundle, limit)
    reference, fp32_seconds = fp32_reference(graph_path, encoded)
    matmuls = [n.name for n in onnx.load(str(graph_path)).graph.node if n.op_type == "MatMul"]
    heads = head_nodes(graph_path, list(reference))
    with tempfile.TemporaryDirectory() as tmp:
        smoothed, dynamic, final = (Path(tmp) / f for f in ("smoothed.onnx", "dynamic.onnx", "final.onnx"))
        smooth(graph_path, smoothed, calibration, 0.8, set(heads))
        quantise_int8(smoothed, dynamic, heads)
        out, seconds = run_graph_rowwise(dynamic, encoded)
        report("smoothed dynamic int8 (shipped)", out, reference, seconds, fp32_seconds)
        for count in range(1, len(groups) + 1):
            chosen = {m for m in matmuls for g in groups[:count] if GROUPS[g](m)}
            quantise_int8(smoothed, dynamic, heads + sorted(chosen))
            done = per_token_rewrite(dynamic, final, chosen, unsigned, weights_only)
            out, seconds = run_graph_rowwise(final, encoded)
            kind = "int8 weights, fp32 activations" if weights_only else "per-token int8"
            report(f"{kind} for {'+'.join(groups[:count])}", out, reference, seconds, fp32_seconds,
                   rewritten_matmuls=done, unsigned=unsigned)


if __name__ == "__main__":
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    chosen = next((a.split("=", 1)[1].split(",") for a in sys.argv if a.startswith("--groups=")),
                  list(GROUPS))
    main(Path(args[0]), int(args[1]) if len(args) > 1 else 600, chosen, "--unsigned" in sys.argv,
         "--weights-only" in sys.argv)
