"""Where does the int8 label disagreement come from, and would 8-bit block-wise weights avoid it?

1. Cut points: the int8 graph of a fallback bundle runs up to a layer boundary, the fp32 graph of the
   same checkpoint runs from there on (fed the int8 hidden states); label agreement with the fp32
   graph and the float part's milliseconds per window say how much each layer's int8 error costs
   and what a fallback from that point would cost.
2. ORT MatMulNBits (8 or 4 bits, block-wise symmetric weights, int8 compute at accuracy level 4) on
   the fp32 graph's MatMuls (the fused attention keeps fp32): agreement and milliseconds per window.

Usage: PYTHONPATH=research python research/int8_error_sources.py FP32_BUNDLE FALLBACK_BUNDLE [N_WINDOWS]
  (the bundles of research/int8_fallback.py; the first N_WINDOWS of ESConv valid.json, default all,
  one window per call, one thread). Prints one JSON line per variant.
"""
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from empathy_metric.export.encoder_graph import graph_feeds
from empathy_metric.pipeline.encoding import WindowEncoder, load_tokenizer
from empathy_metric.pipeline.windows import WindowSettings
from empathy_metric.runtime.float_fallback import MASK_INDEX
from empathy_metric.runtime.ort_session import make_session
from empathy_metric.training.data import esconv_windows
from int8_fallback import agreement
from int8_variants import ESCONV_VALID

FP32_MASK_INDEX = "EmbedLayerNormalization_0_dummy_mask_index"   # the fused embedding's mask output


def layer_outputs(n_layers: int) -> list[str]:
    """The hidden states after each layer's attention block and FFN block (SkipLayerNormalization)."""
    return [f"/encoder/encoder/layer.{i}/{part}/LayerNorm/LayerNormalization_output_0"
            for i in range(n_layers) for part in ("attention/output", "output")][:-1]


def run_rows(path, feeds: list[dict], names: list[str] | None = None) -> tuple[list[dict], float]:
    session = make_session(path, "cpu", 1)
    names = names or [o.name for o in session.get_outputs()]
    started = time.perf_counter()
    outputs = [dict(zip(names, session.run(names, feed))) for feed in feeds]
    return outputs, (time.perf_counter() - started) / len(feeds) * 1000


def stacked(outputs: list[dict], reference: dict) -> dict:
    return {k: np.concatenate([o[k] for o in outputs]) for k in reference}


def cut_points(fp32_graph: Path, int8_graph: Path, feeds, reference: dict, tmp: Path) -> None:
    import onnx
    float_model = onnx.load(str(fp32_graph))
    n_layers = sum(n.op_type == "Attention" for n in float_model.graph.node)
    cuts = layer_outputs(n_layers)
    outputs = [o.name for o in float_model.graph.output]
    float_model.graph.value_info.extend([onnx.helper.make_tensor_value_info(c, onnx.TensorProto.FLOAT,
                                                                            ["batch", "sequence", "hidden"])
                                         for c in cuts])
    float_model.graph.value_info.append(onnx.helper.make_tensor_value_info(FP32_MASK_INDEX, onnx.TensorProto.INT32,
                                                                           ["batch"]))
    onnx.save(float_model, str(tmp / "fp32.onnx"))
    int8_model = onnx.load(str(int8_graph))
    int8_model.graph.output.extend([onnx.helper.make_tensor_value_info(c, onnx.TensorProto.FLOAT, None) for c in cuts])
    onnx.save(int8_model, str(tmp / "int8.onnx"))
    int8_out, _ = run_rows(tmp / "int8.onnx", feeds)
    for cut in cuts:
        tail = tmp / "tail.onnx"
        onnx.utils.extract_model(str(tmp / "fp32.onnx"), str(tail), [cut, FP32_MASK_INDEX, "target_mask"], outputs)
        tail_feeds = [{cut: o[cut], FP32_MASK_INDEX: o[MASK_INDEX], "target_mask": f["target_mask"]}
                      for o, f in zip(int8_out, feeds)]
        out, ms = run_rows(tail, tail_feeds)
        print(json.dumps({"variant": "int8 up to, fp32 from", "cut": cut.split("/encoder/encoder/")[1],
                          "agreement_pct": agreement(stacked(out, reference), reference),
                          "float_ms_per_window": round(ms, 2)}), flush=True)


def nbits(fp32_graph: Path, feeds, reference: dict, tmp: Path) -> None:
    import onnx
    from onnxruntime.quantization.matmul_nbits_quantizer import DefaultWeightOnlyQuantConfig, MatMulNBitsQuantizer
    for bits, block, level in ((8, 32, 4), (8, 128, 4), (8, 32, 0), (4, 32, 4)):
        config = DefaultWeightOnlyQuantConfig(block_size=block, is_symmetric=True, accuracy_level=level, bits=bits)
        quantizer = MatMulNBitsQuantizer(onnx.load(str(fp32_graph)), bits=bits, block_size=block, is_symmetric=True,
                                         accuracy_level=level, algo_config=config)
        quantizer.process()
        quantizer.model.save_model_to_file(str(tmp / "nbits.onnx"), use_external_data_format=False)
        out, ms = run_rows(tmp / "nbits.onnx", feeds)
        print(json.dumps({"variant": "MatMulNBits", "bits": bits, "block": block, "accuracy_level": level,
                          "agreement_pct": agreement(stacked(out, reference), reference),
                          "ms_per_window": round(ms, 2)}), flush=True)


def main(fp32_bundle: Path, bundle: Path, limit: int | None) -> None:
    manifest = json.loads((bundle / "manifest.json").read_text())
    settings = WindowSettings.from_dict(manifest["window"])
    encoder = WindowEncoder(load_tokenizer(bundle / "tokenizer.json"), settings)
    windows = esconv_windows(ESCONV_VALID, settings)[:limit]
    feeds = graph_feeds(encoder.encode([w.window for w in windows]))
    fp32_out, fp32_ms = run_rows(fp32_bundle / "model.onnx", feeds)
    reference = {k: np.concatenate([o[k] for o in fp32_out]) for k in fp32_out[0]}
    int8_out, int8_ms = run_rows(bundle / "model.onnx", feeds)
    print(json.dumps({"windows": len(feeds), "fp32_ms_per_window": round(fp32_ms, 2),
                      "int8_ms_per_window": round(int8_ms, 2),
                      "int8_agreement_pct": agreement(stacked(int8_out, reference), reference)}), flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        cut_points(fp32_bundle / "model.onnx", bundle / "model.onnx", feeds, reference, Path(tmp))
        nbits(fp32_bundle / "model.onnx", feeds, reference, Path(tmp))


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]), int(sys.argv[3]) if len(sys.argv) > 3 else None)
