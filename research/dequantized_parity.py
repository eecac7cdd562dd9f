"""How close the graph `--device cuda` derives from an int8 bundle is to the PyTorch model.

    .venv/bin/python research/dequantized_parity.py --checkpoint runs/soup-ab [--bundle minilm-empathy-v3] [--windows 1000]

Dequantises the bundle's int8 graph (runtime/dequantize.py; the fp32 form of the fp16 CUDA graph,
which this CPU cannot run) and compares it and the int8 graph with the checkpoint's PyTorch outputs
on the first N ESConv valid.json windows: max |diff| per output and argmax agreement per task.
"""
from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

from empathy_metric.bundle import load_bundle
from empathy_metric.dialogue import DEFAULT_AGENT_ROLES
from empathy_metric.export import encoder_graph
from empathy_metric.export.validation import parity
from empathy_metric.io.readers import ReaderOptions, read_dialogues
from empathy_metric.pipeline.encoding import WindowEncoder, load_tokenizer
from empathy_metric.pipeline.windows import windows_of
from empathy_metric.runtime.dequantize import dequantize_graph
from empathy_metric.training.model import load_checkpoint, predict_encoded

DEFAULT_INPUT = Path(__file__).resolve().parent.parent.parent / "shared" / "data" / "esconv" / "valid.json"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--checkpoint", required=True, type=Path, help="the checkpoint the bundle was exported from")
    parser.add_argument("--bundle", default=None, help="int8 bundle (default: the shipped model)")
    parser.add_argument("--input", type=Path, default=DEFAULT_INPUT)
    parser.add_argument("--windows", type=int, default=1000)
    args = parser.parse_args()
    bundle = load_bundle(args.bundle)
    windows = windows_of(read_dialogues(str(args.input), ReaderOptions()), bundle.window,
                         DEFAULT_AGENT_ROLES)[:args.windows]
    window_encoder = WindowEncoder(load_tokenizer(bundle.file("tokenizer")), bundle.window)
    encoded = window_encoder.encode(windows)
    model, _ = load_checkpoint(args.checkpoint)
    reference = predict_encoded(model, encoded, "cpu", window_encoder.pad_id)
    with tempfile.TemporaryDirectory() as tmp:
        dequantised = Path(tmp) / "dequantised.onnx"
        dequantize_graph(bundle.file("model"), dequantised)
        report = {"windows": len(encoded),
                  "dequantised_fp32_vs_torch": parity(
                      reference, encoder_graph.run_graph(dequantised, encoder_graph.graph_feeds(encoded, 32))),
                  "int8_vs_torch": parity(
                      reference, encoder_graph.run_graph(bundle.file("model"), encoder_graph.graph_feeds(encoded, 1)))}
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
