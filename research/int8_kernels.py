"""Does the u8s8 saturation of AVX2 (no VNNI) cost the int8 labels? The same smoothed graph (alpha 0.8,
as exported) quantised with s8 weights (shipped, u8s8 kernels), u8 weights (u8u8 kernels, no pairwise
int16 saturation) and s8 with reduce_range; agreement with fp32 and speed, one window per call.

    PYTHONPATH=research python research/int8_kernels.py FP32_BUNDLE N_WINDOWS
"""
import sys
import tempfile
from pathlib import Path

import onnx
from onnxruntime.quantization import QuantType, quantize_dynamic

from empathy_metric.export.encoder_graph import head_nodes
from empathy_metric.export.smoothing import smooth
from int8_variants import bundle_windows, fp32_reference, report, run_graph_rowwise

VARIANTS = (("s8 weights (shipped)", QuantType.QInt8, False), ("u8 weights (u8u8)", QuantType.QUInt8, False),
            ("s8 weights, reduce_range", QuantType.QInt8, True))


def main(bundle: Path, limit: int) -> None:
    graph = bundle / "model.onnx"
    encoded, feeds = bundle_windows(bundle, limit)
    reference, fp32_seconds = fp32_reference(graph, encoded)
    heads = head_nodes(graph, list(reference))
    with tempfile.TemporaryDirectory() as tmp:
        smoothed, quantised = Path(tmp) / "smoothed.onnx", Path(tmp) / "int8.onnx"
        smooth(graph, smoothed, feeds, 0.8, set(heads))
        for name, weight_type, reduce_range in VARIANTS:
            quantize_dynamic(str(smoothed), str(quantised), weight_type=weight_type, per_channel=True,
                             reduce_range=reduce_range, nodes_to_exclude=heads,
                             extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT})
            out, seconds = run_graph_rowwise(quantised, encoded)
            report(name, out, reference, seconds, fp32_seconds)


if __name__ == "__main__":
    main(Path(sys.argv[1]), int(sys.argv[2]))
