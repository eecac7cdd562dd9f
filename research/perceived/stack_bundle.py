"""Put a trained perceived stack (stack_train.py) into a bundle's graph, validated.

    PYTHONPATH=$PWD nice -n 10 python research/perceived/stack_bundle.py /work/runs/perceived-stack/b3l2aux/epoch3.pt \
        --branch 3 --cache /work/runs/perceived-stack/cache --source empathy_metric/models/minilm-empathy-v4 \
        --output /work/runs/perceived-stack/bundle --data ../shared/data

- `model.onnx` gains the stack (smoothed on 256 training windows' states, then dynamic int8) reading
  the output of shared layer --branch; `perceived`[:, 0] (empathy) comes from it, every other output
  and column is the same tensor as before;
- checked: every logits output and the other `perceived` columns byte-identical to the source bundle's
  on 1,000 ESConv valid.json windows; the int8 empathy score against the PyTorch stack (fp32, on the
  cached states) on WASSA dev; WASSA dev r of both bundles (the product's backend, batched as `score`
  runs) with the paired difference and its 95% CI over conversations. Recorded in the manifest.
"""
from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
from pathlib import Path

import numpy as np
import onnx
import torch

from empathy_metric.bundle import load_bundle, write_manifest
from empathy_metric.io.readers import ReaderOptions, read_dialogues
from empathy_metric.pipeline.windows import dialogue_windows
from empathy_metric.runtime.onnx_encoder import OnnxEncoderBackend
from empathy_metric.training.data import AGENT_ROLES

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "relevance"))
from biencoder import WORD_TABLE  # noqa: E402
from stack_cache import labelled_windows  # noqa: E402
from stack_graph import spliced, stack_graph  # noqa: E402
from stack_train import Cache, dev_report, load_stack, predict  # noqa: E402
from text_graph import externalise  # noqa: E402

N_WINDOWS, N_CALIBRATION = 1000, 256
DERIVATION = ("; empathy: a stack of its own ({layers} transformer layers from all-MiniLM-L6-v2 on the output of shared "
              "layer {branch}) trained on {training} (research/perceived/stack_train.py)")
WASSA_ONLY = "WASSA 2023's third-party ratings alone"


def without_empathy_figures(quality: dict) -> dict:
    """The source checkpoint's quality record less its perceived-empathy figures, which described the
    head the stack replaces (the bundle's own are measured by `eval --record-validity`)."""
    return {split: {k: v for k, v in block.items() if k != "perceived_turn_pearson"} if isinstance(block, dict) else block
            for split, block in quality.items()}


def calibration_feeds(cache: Cache, n: int, seed: int = 13) -> list[dict]:
    rows = np.random.default_rng(seed).choice(len(cache.meta["lengths"]), n, replace=False)
    feeds = []
    for r in rows:
        hidden, attention, target = cache.batch(np.array([r]))
        feeds.append({"hidden": hidden.numpy(), "attention_mask": attention.numpy().astype(np.int64),
                      "target_mask": target.numpy()})
    return feeds


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("checkpoint", type=Path)
    parser.add_argument("--branch", type=int, required=True)
    parser.add_argument("--cache", type=Path, required=True, help="the prefix given to stack_cache.py")
    parser.add_argument("--source", required=True, type=Path)
    parser.add_argument("--output", required=True, type=Path)
    parser.add_argument("--data", required=True, type=Path)
    parser.add_argument("--name", help="the built bundle's name (default: the source's)")
    parser.add_argument("--training", default=WASSA_ONLY, help="what the stack was trained on, for the manifest")
    args = parser.parse_args()
    state = torch.load(args.checkpoint)
    stack = load_stack(state, args.branch)
    stack.eval()
    layers = len(stack.layers)
    source = load_bundle(args.source)
    train, dev = Cache(args.cache, "train", args.branch), Cache(args.cache, "dev", args.branch)
    with tempfile.TemporaryDirectory() as tmp:
        int8 = stack_graph(stack, Path(tmp), calibration_feeds(train, N_CALIBRATION))
    model = spliced(onnx.load(str(source.file("model"))), int8, args.branch)
    if args.output.exists():
        shutil.rmtree(args.output)
    shutil.copytree(args.source, args.output)
    externalise(model, WORD_TABLE + "_quantized", source.manifest["files"]["embeddings"], args.output)
    onnx.save(model, str(args.output / source.manifest["files"]["model"]))
    manifest = dict(source.manifest, name=args.name or source.manifest["name"],
                    quality=without_empathy_figures(source.manifest.get("quality", {})))
    manifest["perceived"] = {**manifest["perceived"],
                             "derivation": manifest["perceived"]["derivation"] + DERIVATION.format(layers=layers, branch=args.branch, training=args.training)}
    write_manifest(args.output, manifest)
    built = load_bundle(args.output)

    valid = read_dialogues(str(args.data / "esconv" / "valid.json"), ReaderOptions(format="esconv", agent_roles=AGENT_ROLES))
    windows = [w for d in valid for w in dialogue_windows(d, source.window, AGENT_ROLES)][:N_WINDOWS]
    source_backend, built_backend = OnnxEncoderBackend(source, threads=2), OnnxEncoderBackend(built, threads=2)
    before = source_backend.predict(windows).outputs
    after = built_backend.predict(windows).outputs
    for name, value in before.items():
        kept = (after[name][:, 1:], value[:, 1:]) if name == "perceived" else (after[name], value)
        if not np.array_equal(kept[0].view(np.uint32), kept[1].view(np.uint32)):
            raise SystemExit(f"{name} changed: only perceived empathy may change")

    wassa, _ = labelled_windows(args.data / "wassa23", "dev", source.window)
    dev_windows = [w.window for w in wassa]
    old = source_backend.predict(dev_windows).outputs["perceived"][:, 0]
    new = built_backend.predict(dev_windows).outputs["perceived"][:, 0]
    fp32 = predict(stack, dev, np.arange(len(dev_windows)))
    dev.meta["baseline"] = old
    report = dev_report(new, dev, args.data)
    diff = np.abs(new - fp32)
    manifest["export_validation"] = {**manifest["export_validation"], "perceived_stack": {
        "n_windows": len(dev_windows), "max_abs_diff": float(diff.max()), "mean_abs_diff": float(diff.mean()),
        "against": "the PyTorch stack (fp32, research/perceived/stack_train.py) on the int8 graph's own layer "
                   f"{args.branch} states of WASSA dev windows",
        "other_outputs_byte_identical": True}}
    write_manifest(args.output, manifest)
    (args.output.parent / f"{args.output.name}.report.json").write_text(json.dumps(report, indent=1))
    print(f"perceived stack: int8 vs fp32 max abs diff {diff.max():.3g} (mean {diff.mean():.3g}) on {len(dev_windows)} "
          "WASSA dev windows; other outputs byte-identical on ESConv valid")
    print(json.dumps(report))


if __name__ == "__main__":
    main()
