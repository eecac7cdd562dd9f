"""Cache the shipped int8 graph's last hidden states for real and swapped replies (training data of
`perceived.relevance`).

    PYTHONPATH=$PWD nice -n 10 python research/relevance/hidden_states.py --data ../shared/data \
        -o /work/runs/relevance/train

Rows (research/understanding/features.rows_for): ESConv train.json (6 supporter turns sampled per
dialogue), WASSA train (6 turns per conversation), 2,000 pairs of the EMH 85% training part; each real
reply, a reply from another conversation and (ESConv, WASSA) another turn >= 2 away of the same one.
No generic lines: a stock line fits every conversation; that is `perceived.understanding`'s job.

Writes OUT.tokens.npy (float16 [tokens, 384], every window's unpadded last-layer states one after the
other), OUT.npz (offsets, lengths, target masks (flat), input ids (flat), label, kind, source, group).
Each window runs alone (batch of one), as the bundle runs it.
"""
from __future__ import annotations

import argparse
import random
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper

from empathy_metric.bundle import load_bundle
from empathy_metric.pipeline.encoding import WindowEncoder, load_tokenizer
from empathy_metric.runtime.ort_session import make_session

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "understanding"))
from features import emh_parts, esconv_dialogue_windows, rows_for, wassa_dialogue_windows  # noqa: E402
from graph import HIDDEN  # noqa: E402

KINDS = ("swapped_other", "swapped_same")


def hidden_graph(model: onnx.ModelProto, path: Path) -> Path:
    """The graph with its last hidden states as one more output."""
    model = onnx.ModelProto.FromString(model.SerializeToString())
    model.graph.node.append(helper.make_node("Identity", [HIDDEN], ["hidden"]))
    model.graph.output.append(helper.make_tensor_value_info("hidden", TensorProto.FLOAT, [1, "seq", 384]))
    onnx.save(model, str(path))
    return path


def training_rows(data: Path, settings, seed: int, per_dialogue: int, emh_pairs: int):
    rng = random.Random(seed)
    emh_kept, _ = emh_parts(data / "emh", settings)
    emh = [("emh", lw.group, [lw.window]) for lw in emh_kept]
    rows = rows_for(esconv_dialogue_windows(data / "esconv" / "train.json", settings), {}, KINDS, rng, per_dialogue)
    rows += rows_for(wassa_dialogue_windows(data / "wassa23", "train", settings), {}, KINDS, rng, per_dialogue)
    rows += rows_for(rng.sample(emh, min(len(emh), emh_pairs)), {}, ("swapped_other",), rng, None)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", required=True, type=Path)
    parser.add_argument("-o", "--output", required=True, type=Path, help="prefix of the two files")
    parser.add_argument("--model", default=None)
    parser.add_argument("--per-dialogue", type=int, default=6)
    parser.add_argument("--emh-pairs", type=int, default=2000)
    parser.add_argument("--limit", type=int, default=None, help="first N rows only (a timing try)")
    parser.add_argument("--seed", type=int, default=36)
    args = parser.parse_args()
    bundle = load_bundle(args.model)
    rows = training_rows(args.data, bundle.window, args.seed, args.per_dialogue, args.emh_pairs)[:args.limit]
    encoded = WindowEncoder(load_tokenizer(bundle.file("tokenizer")), bundle.window).encode([r[0] for r in rows])
    lengths = np.array([len(e.input_ids) for e in encoded])
    offsets = np.concatenate([[0], np.cumsum(lengths)[:-1]])
    print(f"{len(rows)} windows, {lengths.sum()} tokens", flush=True)
    graph = hidden_graph(onnx.load(str(bundle.file("model"))), args.output.with_suffix(".hidden.onnx"))
    sessions = [make_session(graph, "cpu", 1) for _ in range(2)]
    tokens = np.lib.format.open_memmap(str(args.output) + ".tokens.npy", mode="w+", dtype=np.float16,
                                       shape=(int(lengths.sum()), 384))

    def run(i: int) -> None:
        e = encoded[i]
        feeds = {"input_ids": e.input_ids[None], "attention_mask": np.ones_like(e.input_ids)[None],
                 "target_mask": e.target_mask[None]}
        (hidden,) = sessions[i % 2].run(["hidden"], feeds)
        tokens[offsets[i]:offsets[i] + lengths[i]] = hidden[0].astype(np.float16)

    with ThreadPoolExecutor(2) as pool:
        for done, _ in enumerate(pool.map(run, range(len(encoded)))):
            if done % 2000 == 0:
                print(f"{done}/{len(encoded)}", flush=True)
    tokens.flush()
    np.savez(str(args.output) + ".npz", offsets=offsets, lengths=lengths,
             target_mask=np.concatenate([e.target_mask for e in encoded]),
             input_ids=np.concatenate([e.input_ids for e in encoded]),
             label=np.array([r[4] for r in rows]), kind=np.array([r[1] for r in rows]),
             source=np.array([r[2] for r in rows]), group=np.array([r[3] for r in rows]))
    print(f"wrote {args.output}.tokens.npy and .npz")


if __name__ == "__main__":
    main()
