"""Add the trained `perceived.understanding` head to a bundle's int8 graph, in place, validated.

    PYTHONPATH=$PWD nice -n 10 python research/understanding/build_bundle.py /work/runs/generic/head.npz \
        --bundle empathy_metric/models/minilm-empathy-v4 --data ../shared/data \
        --features-bundle /work/runs/generic/feature-bundle

The `perceived` output gains a last column; its other columns and every logits output are the same
tensors as before (checked: byte-identical on the validation windows). Export validation: the ONNX
head against the numpy head (train_head.head_scores) on the graph's own features of 1,000 ESConv
valid.json windows; the max abs diff goes into the manifest's export_validation.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import onnx

from empathy_metric.bundle import load_bundle, write_manifest
from empathy_metric.io.readers import ReaderOptions, read_dialogues
from empathy_metric.pipeline.windows import dialogue_windows
from empathy_metric.runtime.onnx_encoder import OnnxEncoderBackend
from empathy_metric.training.data import AGENT_ROLES

sys.path.insert(0, str(Path(__file__).parent))
from graph import with_understanding_head  # noqa: E402
from train_head import features, head_scores  # noqa: E402

N_WINDOWS = 1000
DERIVATION = ("sigmoid head per dimension; per-turn scores trained against the dialogue's seeker-survey rating "
              "(see README.md); understanding: a head on frozen features of this graph (the pooled reply, the "
              "pooled context and their product), trained contrastively: real replies vs generic ones and "
              "replies from other conversations or other turns (research/understanding/)")


def outputs_of(folder: Path, windows) -> dict[str, np.ndarray]:
    backend = OnnxEncoderBackend(load_bundle(folder), threads=2)
    return backend.predict(windows).outputs


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("head")
    parser.add_argument("--bundle", required=True, type=Path)
    parser.add_argument("--data", required=True, type=Path)
    parser.add_argument("--features-bundle", required=True, type=Path)
    args = parser.parse_args()
    head = dict(np.load(args.head))
    weights = {k: head[k].astype(np.float32) for k in ("mean", "scale", "w1", "b1", "w2", "b2")}
    bundle = load_bundle(args.bundle)
    manifest = dict(bundle.manifest)
    if "understanding" in manifest["perceived"]["dimensions"]:
        raise SystemExit(f"{args.bundle} already has perceived.understanding")
    valid = read_dialogues(str(args.data / "esconv" / "valid.json"),
                           ReaderOptions(format="esconv", agent_roles=AGENT_ROLES))
    windows = [w for d in valid for w in dialogue_windows(d, bundle.window, AGENT_ROLES)][:N_WINDOWS]
    before = outputs_of(args.bundle, windows)
    feats = outputs_of(args.features_bundle, windows)
    graph = bundle.file("model")
    onnx.save(with_understanding_head(onnx.load(str(graph)), weights), str(graph))
    manifest["perceived"] = {"dimensions": [*manifest["perceived"]["dimensions"], "understanding"],
                             "derivation": DERIVATION}
    write_manifest(args.bundle, manifest)
    after = outputs_of(args.bundle, windows)
    for name, value in before.items():
        kept = after[name][:, :value.shape[1]] if name == "perceived" else after[name]
        if not np.array_equal(kept.view(np.uint32), value.view(np.uint32)):
            raise SystemExit(f"{name} changed: the head must only add a column")
    expected = head_scores(weights, features({"target": feats["feat.target"], "context": feats["feat.context"]}))
    diff = float(np.abs(after["perceived"][:, -1] - expected).max())
    validation = dict(manifest["export_validation"])
    validation["understanding_head"] = {
        "n_windows": len(windows), "max_abs_diff": diff,
        "against": "the numpy head (research/understanding/train_head.py) on the int8 graph's own pooled "
                   "features of ESConv valid.json windows",
        "other_outputs_byte_identical": True}
    manifest["export_validation"] = validation
    write_manifest(args.bundle, manifest)
    print(f"understanding head: max abs diff {diff:.3g} on {len(windows)} windows; other outputs byte-identical")


if __name__ == "__main__":
    main()
