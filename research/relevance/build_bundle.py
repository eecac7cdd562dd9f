"""Add the trained `perceived.relevance` bi-encoder (biencoder.py) to a bundle, calibrated and validated.

    PYTHONPATH=$PWD nice -n 10 python research/relevance/build_bundle.py /work/runs/relevance/bi4/epoch2.pt \
        --source empathy_metric/models/minilm-empathy-v4 --output /work/runs/relevance/bundle --data ../shared/data

- the bundle gains `relevance.onnx` (text_graph.py), and the word table moves out of `model.onnx` into
  `embeddings.data`, which both graphs read; the manifest gains `relevance` (max_tokens, the learned
  context mix, the calibration) and the `perceived` dimension `relevance` (last column);
- calibration: logistic regression of real (1) vs swapped (0) on the int8 graph's cosine, over the
  10% of training groups biencoder.py held out (real replies, another conversation's, another turn's;
  classes weighted to balance), so 0.5 is where real and swapped replies are equally likely;
- int8: the text stack is smoothed (SmoothQuant, alpha 0.8, as the shipped graph was) on 256 turns of
  the training dialogues, then dynamic int8;
- checked: every logits output and the other `perceived` columns byte-identical to the source bundle's
  on 1,000 ESConv valid.json windows; the int8 text stack against the PyTorch one (fp32) on those
  windows' turns (cosine of the two embeddings, and the relevance scores' max abs diff), recorded in
  the manifest's export_validation.
"""
from __future__ import annotations

import argparse
import random
import shutil
import sys
from pathlib import Path

import numpy as np
import onnx
import torch
from sklearn.linear_model import LogisticRegression

from empathy_metric.bundle import load_bundle, write_manifest
from empathy_metric.io.readers import ReaderOptions, read_dialogues
from empathy_metric.pipeline.encoding import load_tokenizer
from empathy_metric.pipeline.windows import dialogue_windows
from empathy_metric.runtime import load_backend
from empathy_metric.runtime.onnx_encoder import OnnxEncoderBackend
from empathy_metric.runtime.relevance import ContextFit, context_cosines
from empathy_metric.training.data import AGENT_ROLES, group_fraction

sys.path.insert(0, str(Path(__file__).resolve().parent))
from biencoder import MAX_TOKENS, SEED, TextEncoder, Texts, examples, shipped_word_table  # noqa: E402
from text_graph import calibration_feeds, write_graphs  # noqa: E402

N_WINDOWS = 1000
RELEVANCE_FILE, TABLE_FILE = "relevance.onnx", "embeddings.data"
DERIVATION = ("; relevance: a bi-encoder of its own in this graph (4 layers from all-MiniLM-L6-v2, sharing the "
              "word table) embeds each turn; sigmoid of the calibrated cosine between the reply and the mix of "
              "the turns before and after it, trained contrastively on real replies vs other conversations' and "
              "other turns' (research/relevance/)")


def calibration_rows(data: Path, window):
    """biencoder.py's held-out 10% of training groups: (window-like rows, label) with real, another
    conversation's and another turn's reply."""
    rows = [r for r in examples(data, window, None, random.Random(SEED)) if group_fraction(r[4], SEED) < 0.1]
    rng = random.Random(SEED)
    pool = [(r[4], r[0]) for r in rows]
    found = []
    for reply, before, after, same, group in rows:
        found.append((reply, before, after, 1))
        found.append((next(t for g, t in iter(lambda: rng.choice(pool), None) if g != group), before, after, 0))
        if same is not None:
            found.append((same, before, after, 0))
    return found


def calibration_windows(rows):
    """(reply, previous, next, label) rows as windows ContextFit scores."""
    from empathy_metric.pipeline.windows import ContextTurn, Window
    return [Window("calibration", i, "agent", reply, (ContextTurn(False, before),) if before else (),
                   (ContextTurn(False, after),) if after else ()) for i, (reply, before, after, _) in enumerate(rows)]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("checkpoint", type=Path)
    parser.add_argument("--source", required=True, type=Path)
    parser.add_argument("--output", required=True, type=Path, help="the new bundle folder (may be --source)")
    parser.add_argument("--data", required=True, type=Path)
    args = parser.parse_args()
    state = torch.load(args.checkpoint)
    source = load_bundle(args.source)
    manifest = dict(source.manifest)
    if "relevance" in manifest["perceived"]["dimensions"]:
        raise SystemExit(f"{args.source} already has perceived.relevance")
    encoder = TextEncoder(shipped_word_table(source.file("model")), state["layers"], init=False)
    encoder.load_state_dict(state["model"])
    encoder.eval()
    valid = read_dialogues(str(args.data / "esconv" / "valid.json"), ReaderOptions(format="esconv", agent_roles=AGENT_ROLES))
    windows = [w for d in valid for w in dialogue_windows(d, source.window, AGENT_ROLES)][:N_WINDOWS]
    before = OnnxEncoderBackend(source, threads=2).predict(windows).outputs
    texts = Texts(load_tokenizer(source.file("tokenizer")))
    training = examples(args.data, source.window, 2, random.Random(SEED + 1))
    calibration = calibration_feeds(encoder, [texts.tokenizer.encode(t).ids for r in training[:128] for t in r[:2] if t])
    shipped = onnx.load(str(source.file("model")))
    if args.output.resolve() != args.source.resolve():
        if args.output.exists():
            shutil.rmtree(args.output)
        shutil.copytree(args.source, args.output)
    manifest["files"] = {**manifest["files"], "relevance": RELEVANCE_FILE, "embeddings": TABLE_FILE}
    write_graphs(shipped, encoder, args.output, manifest["files"]["model"], RELEVANCE_FILE, TABLE_FILE,
                 calibration=calibration)
    mix = [float(v) for v in encoder.mix.detach()]
    manifest["relevance"] = {"max_tokens": MAX_TOKENS, "mix": mix, "calibration": [1.0, 0.0],
                             "layers": state["layers"]}
    write_manifest(args.output, manifest)
    rows = calibration_rows(args.data, source.window)
    fit = ContextFit(load_bundle(args.output), 2)
    calibration_set = calibration_windows(rows)
    x = np.nan_to_num(context_cosines(calibration_set, fit.embeddings(calibration_set), fit.mix))  # no context: 0
    y = np.array([r[3] for r in rows])
    model = LogisticRegression(class_weight="balanced").fit(x[:, None], y)
    manifest["relevance"]["calibration"] = [float(model.coef_[0, 0]), float(model.intercept_[0])]
    manifest["relevance"]["calibrated_on"] = (f"{int(y.sum())} real and {int((y == 0).sum())} swapped replies of the 10% "
                                              "of training groups held out from the encoder's training")
    manifest["perceived"] = {"dimensions": [*manifest["perceived"]["dimensions"], "relevance"],
                             "derivation": manifest["perceived"]["derivation"] + DERIVATION}
    write_manifest(args.output, manifest)
    built = load_bundle(args.output)
    after = load_backend(built, threads=2).predict(windows).outputs
    for name, value in before.items():
        kept = after[name][:, :value.shape[1]] if name == "perceived" else after[name]
        if not np.array_equal(kept.view(np.uint32), value.view(np.uint32)):
            raise SystemExit(f"{name} changed: the relevance stage must only add a column")
    fit = ContextFit(built, 2)
    int8 = fit.embeddings(windows)
    distinct = sorted(int8)
    with torch.no_grad():
        reference = {t: encoder(*texts.batch([t]))[0].numpy() for t in distinct}
    agreement = np.array([reference[t] @ int8[t] for t in distinct])
    fp32_scores = fit.calibrated(context_cosines(windows, reference, fit.mix))
    diff = float(np.abs(after["perceived"][:, -1] - fp32_scores).max())
    slope, intercept = manifest["relevance"]["calibration"]
    manifest["export_validation"] = {**manifest["export_validation"], "relevance_stack": {
        "n_windows": len(windows), "n_texts": len(distinct), "max_abs_diff": diff,
        "embedding_cosine_int8_vs_fp32": {"mean": float(agreement.mean()), "min": float(agreement.min())},
        "against": "the PyTorch text stack (fp32, research/relevance/biencoder.py) on the turns of ESConv "
                   "valid.json windows: relevance scores and embeddings",
        "other_outputs_byte_identical": True}}
    write_manifest(args.output, manifest)
    print(f"calibration slope {slope:.3f} intercept {intercept:.3f}; mix {mix}")
    print(f"relevance: int8 vs fp32 max abs diff {diff:.3g} on {len(windows)} windows; embedding cosine mean "
          f"{agreement.mean():.4f} min {agreement.min():.4f}; other outputs byte-identical")


if __name__ == "__main__":
    main()
