"""Frozen features of the shipped int8 graph for real, generic and swapped replies in their context.

    nice -n 10 python research/understanding/features.py --data ../shared/data --split train \
        -o /work/runs/generic/features-train.npz
    nice -n 10 python research/understanding/features.py --data ../shared/data --split heldout \
        -o /work/runs/generic/features-heldout.npz

train: ESConv train.json, the EMH 85% training part (the project's split), WASSA train; generic
replies from the "train" template pools (perturbations.GENERIC_SETS) and EMH responses whose
interpretation is "weak" (from the EMH training part). heldout: ESConv valid.json (every supporter
turn), the EMH 15% test part, WASSA dev; generic replies from the "eval" pools only.
Each row: the pooled target vector the shipped heads read, the pooled context vector, the shipped
`perceived` scores, and what the reply is (real, generic_*, swapped_other, swapped_same).
"""
from __future__ import annotations

import argparse
import random
import shutil
from pathlib import Path

import numpy as np
import onnx

from empathy_metric.bundle import load_bundle, resolve_model_path, write_manifest
from empathy_metric.io.readers import ReaderOptions, read_dialogues
from empathy_metric.pipeline.windows import dialogue_windows
from empathy_metric.runtime.onnx_encoder import OnnxEncoderBackend
from empathy_metric.training.data import AGENT_ROLES, emh_windows, holdout_split
from empathy_metric.training.experiment import EMH_TEST_FRACTION, SPLIT_SEED
from empathy_metric.training.perturbations import GENERIC_SETS, with_target
from empathy_metric.training.wassa import SPEAKERS, wassa_dialogues

try:
    from graph import feature_graph
except ImportError:                      # imported as research.understanding.features
    from .graph import feature_graph

INTERPRETATIONS_WEAK = 1


def feature_bundle(model: str | None, folder: Path) -> Path:
    """The shipped bundle with the feature outputs added (its manifest's sha256 refreshed)."""
    source = resolve_model_path(model)
    if folder.exists():
        shutil.rmtree(folder)
    shutil.copytree(source, folder)
    onnx.save(feature_graph(onnx.load(str(source / "model.onnx"))), str(folder / "model.onnx"))
    manifest = load_bundle(source).manifest
    write_manifest(folder, dict(manifest))
    return folder


def esconv_dialogue_windows(path: Path, settings):
    options = ReaderOptions(format="esconv", agent_roles=AGENT_ROLES)
    return [("esconv", d.dialogue_id, dialogue_windows(d, settings, AGENT_ROLES))
            for d in read_dialogues(str(path), options)]


def wassa_dialogue_windows(folder: Path, split: str, settings):
    found = []
    for d in wassa_dialogues(folder, split):
        ws = sorted((w for s in SPEAKERS for w in dialogue_windows(d, settings, frozenset({s}))),
                    key=lambda w: w.turn_index)
        found.append(("wassa", d.dialogue_id, ws))
    return found


def emh_parts(folder: Path, settings):
    kept, held = holdout_split(emh_windows(str(folder), settings), EMH_TEST_FRACTION, SPLIT_SEED)
    return kept, held


def rows_for(groups, generic_pool, kinds, rng, per_dialogue: int | None):
    """(window, kind, source, group, label) rows: each sampled real reply, then its worse versions."""
    pool = [(g, w.target) for _, g, ws in groups for w in ws if w.target.strip()]
    rows = []
    for source, group, ws in groups:
        picked = ws if per_dialogue is None or len(ws) <= per_dialogue else rng.sample(ws, per_dialogue)
        for w in picked:
            rows.append((w, "real", source, group, 1))
            for kind in kinds:
                if kind.startswith("generic"):
                    text = rng.choice(generic_pool[kind])
                elif kind == "swapped_other":
                    text = next(t for g, t in iter(lambda: rng.choice(pool), None) if g != group)
                elif kind == "swapped_same":
                    others = [o.target for o in ws if abs(o.turn_index - w.turn_index) >= 2 and o.target.strip()]
                    if not others:
                        continue
                    text = rng.choice(others)
                else:
                    raise ValueError(kind)
                rows.append((with_target(w, text), kind, source, group, 0))
    return rows


def build_rows(data: Path, split: str, settings, seed: int):
    rng = random.Random(seed)
    emh_kept, emh_held = emh_parts(data / "emh", settings)
    if split == "train":
        weak = [lw.window.target for lw in emh_kept
                if lw.labels.get("emh_interpretations") == INTERPRETATIONS_WEAK]
        stock = [line for s in GENERIC_SETS.values() for line in s["train"]]
        pool = {"generic_train": stock + weak}
        emh = [("emh", lw.group, [lw.window]) for lw in emh_kept
               if lw.labels.get("emh_interpretations") != INTERPRETATIONS_WEAK]
        esconv = esconv_dialogue_windows(data / "esconv" / "train.json", settings)
        wassa = wassa_dialogue_windows(data / "wassa23", "train", settings)
        rows = rows_for(esconv, pool, ("generic_train", "swapped_other", "swapped_same"), rng, 4)
        rows += rows_for(wassa, pool, ("generic_train", "swapped_other", "swapped_same"), rng, 6)
        rows += rows_for(rng.sample(emh, min(len(emh), 1500)), pool, ("generic_train", "swapped_other"), rng, None)
        return rows
    pool = {k: list(s["eval"]) for k, s in GENERIC_SETS.items()}
    kinds = ("generic_sympathy", "generic_questions", "swapped_other", "swapped_same")
    emh = [("emh", lw.group, [lw.window]) for lw in emh_held]
    rows = rows_for(esconv_dialogue_windows(data / "esconv" / "valid.json", settings), pool, kinds, rng, None)
    rows += rows_for(wassa_dialogue_windows(data / "wassa23", "dev", settings), pool,
                     ("generic_sympathy", "generic_questions", "swapped_other"), rng, None)
    rows += rows_for(emh, pool, ("generic_sympathy", "generic_questions", "swapped_other"), rng, None)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", required=True, type=Path)
    parser.add_argument("--split", choices=("train", "heldout"), required=True)
    parser.add_argument("-o", "--output", required=True, type=Path)
    parser.add_argument("--model", default=None)
    parser.add_argument("--limit", type=int, default=None, help="first N rows only (a timing try)")
    parser.add_argument("--seed", type=int, default=37)
    args = parser.parse_args()
    folder = feature_bundle(args.model, args.output.parent / "feature-bundle")
    bundle = load_bundle(folder)
    rows = build_rows(args.data, args.split, bundle.window, args.seed)[:args.limit]
    print(f"{len(rows)} windows", flush=True)
    backend = OnnxEncoderBackend(bundle, threads=2)
    out = backend.predict([r[0] for r in rows]).outputs
    w = [r[0] for r in rows]
    np.savez(args.output, target=out["feat.target"], context=out["feat.context"], perceived=out["perceived"],
             kind=np.array([r[1] for r in rows]), source=np.array([r[2] for r in rows]),
             group=np.array([r[3] for r in rows]), label=np.array([r[4] for r in rows]),
             turn_index=np.array([x.turn_index for x in w]), dialogue_id=np.array([x.dialogue_id for x in w]),
             n_words=np.array([len(x.target.split()) for x in w]), text=np.array([x.target for x in w]),
             gold=np.array([repr(x.gold) for x in w]))
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
