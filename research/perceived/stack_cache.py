"""Cache the shipped int8 graph's hidden states on WASSA windows: the input of a perceived stack of
its own (issue 36, item 1), trained by stack_train.py.

    PYTHONPATH=$PWD nice -n 10 python research/perceived/stack_cache.py --data ../shared/data \
        -o /work/runs/perceived-stack/cache

For each split (train, dev) writes OUT-SPLIT.layerK.npy (float16 [tokens, 384], the unpadded states
after encoder layer K, windows one after the other) for K in --layers, and OUT-SPLIT.npz: offsets,
lengths, target masks and input ids (flat), labels (empathy, polarity, intensity, each scaled to
0..1), the conversation of each turn and the shipped `perceived.empathy` (the baseline, same windows).
--contrast: also OUT-contrast.*, train's turns with worse replies and padded copies (the ranking
losses of training/contrast.py; with --generic stock sympathy lines and questions too), each with
the row of its real turn (`parent`) and `kind`.
Windows are the bundle's own; each runs alone (batch of one), as the bundle runs it.
"""
from __future__ import annotations

import argparse
import random
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper

from empathy_metric.bundle import load_bundle
from empathy_metric.pipeline.encoding import WindowEncoder, load_tokenizer
from empathy_metric.runtime.ort_session import make_session
from empathy_metric.training.contrast import MIN_RATED_TARGET
from empathy_metric.training.perturbations import CONTRAST_KINDS, WORSE_KINDS, padded, with_target, worse_reply
from empathy_metric.training.wassa import wassa_windows

SCALES = np.array([5.0, 2.0, 5.0], dtype=np.float32)      # empathy, polarity, intensity


def layer_output(k: int) -> str:
    return f"/encoder/encoder/layer.{k}/output/LayerNorm/LayerNormalization_output_0"


def hidden_graph(model: onnx.ModelProto, layers: list[int], path: Path) -> Path:
    """The graph with the outputs of the given encoder layers as outputs `layerK`."""
    model = onnx.ModelProto.FromString(model.SerializeToString())
    for k in layers:
        model.graph.node.append(helper.make_node("Identity", [layer_output(k)], [f"layer{k}"]))
        model.graph.output.append(helper.make_tensor_value_info(f"layer{k}", TensorProto.FLOAT, [1, "seq", 384]))
    onnx.save(model, str(path))
    return path


def labelled_windows(folder: Path, split: str, settings):
    windows = wassa_windows(folder, split, settings, ["empathy"])
    rows = [line.split() for line in (folder / f"{split}_context_labels.txt").read_text().splitlines()]
    labels = np.array([[float(r[2]), float(r[0]), float(r[1])] for r in rows], dtype=np.float32) / SCALES
    assert len(windows) == len(labels), (len(windows), len(labels))
    return windows, labels


def write_cache(graph: Path, bundle, windows: list, prefix: str, layers: list[int], **meta) -> None:
    """Run each window alone and store its layer states, its shipped `perceived.empathy` and `meta`."""
    encoded = WindowEncoder(load_tokenizer(bundle.file("tokenizer")), bundle.window).encode(windows)
    lengths = np.array([len(e.input_ids) for e in encoded])
    offsets = np.concatenate([[0], np.cumsum(lengths)[:-1]])
    print(f"{prefix}: {len(encoded)} windows, {lengths.sum()} tokens", flush=True)
    sessions = [make_session(graph, "cpu", 1) for _ in range(2)]
    stores = {k: np.lib.format.open_memmap(f"{prefix}.layer{k}.npy", mode="w+", dtype=np.float16,
                                           shape=(int(lengths.sum()), 384)) for k in layers}
    baseline = np.zeros(len(encoded), np.float32)

    def run(i: int) -> None:
        e = encoded[i]
        feeds = {"input_ids": e.input_ids[None], "attention_mask": np.ones_like(e.input_ids)[None],
                 "target_mask": e.target_mask[None]}
        perceived, *hidden = sessions[i % 2].run(["perceived"] + [f"layer{k}" for k in layers], feeds)
        baseline[i] = perceived[0, 0]
        for k, h in zip(layers, hidden):
            stores[k][offsets[i]:offsets[i] + lengths[i]] = h[0].astype(np.float16)

    with ThreadPoolExecutor(2) as pool:
        for done, _ in enumerate(pool.map(run, range(len(encoded)))):
            if done % 2000 == 0:
                print(f"{done}/{len(encoded)}", flush=True)
    for store in stores.values():
        store.flush()
    np.savez(f"{prefix}.npz", offsets=offsets, lengths=lengths,
             target_mask=np.concatenate([e.target_mask for e in encoded]),
             input_ids=np.concatenate([e.input_ids for e in encoded]), baseline=baseline, **meta)


def contrast_windows(windows, labels, seed: int, generic_lines: bool = False):
    """training/contrast.py's worse replies (off-topic, canned, curt; only for turns rated >= 2.5)
    and a padded copy of every turn: (windows, the real turn's row, kind: 0 worse, 1 padded).
    `generic_lines`: a stock sympathy line and a stock question (their "train" lists) are worse too."""
    kinds = CONTRAST_KINDS if generic_lines else WORSE_KINDS
    rng = random.Random(seed)
    pool = [(lw.group, lw.window.target) for lw in windows if lw.window.target.strip()]
    found, parent, kind = [], [], []
    for row, (lw, rating) in enumerate(zip(windows, labels[:, 0])):
        if not lw.window.target.strip():
            continue
        worse = [worse_reply(k, lw.window.target, lw.group, pool, rng) for k in kinds] \
            if rating >= MIN_RATED_TARGET else []
        texts = [(t, 0) for t in worse if t is not None] + [(padded(lw.window.target, rng), 1)]
        for text, k in texts:
            found.append(with_target(lw.window, text))
            parent.append(row)
            kind.append(k)
    return found, np.array(parent), np.array(kind)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", required=True, type=Path)
    parser.add_argument("-o", "--output", required=True, type=Path, help="prefix of the files")
    parser.add_argument("--model", default=None)
    parser.add_argument("--layers", type=int, nargs="+", default=[3, 5])
    parser.add_argument("--splits", nargs="+", default=["train", "dev"])
    parser.add_argument("--contrast", action="store_true", help="also cache train's worse and padded replies")
    parser.add_argument("--generic", action="store_true", help="stock lines among the worse replies")
    parser.add_argument("--seed", type=int, default=13)
    args = parser.parse_args()
    bundle = load_bundle(args.model)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    graph = hidden_graph(onnx.load(str(bundle.file("model"))), args.layers, args.output.with_suffix(".hidden.onnx"))
    for split in args.splits:
        windows, labels = labelled_windows(args.data / "wassa23", split, bundle.window)
        write_cache(graph, bundle, [w.window for w in windows], f"{args.output}-{split}", args.layers,
                    labels=labels, group=np.array([w.group for w in windows]))
        if split == "train" and args.contrast:
            worse, parent, kind = contrast_windows(windows, labels, args.seed, args.generic)
            write_cache(graph, bundle, worse, f"{args.output}-contrast", args.layers, parent=parent, kind=kind)


if __name__ == "__main__":
    main()
