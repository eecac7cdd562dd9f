"""One benchmark variant in its own process (so that its peak RSS is its own).

    python benchmarks/worker.py torch  --checkpoint CKPT --input FILE --out result.json [...]
    python benchmarks/worker.py ort    --bundle BUNDLE   --input FILE --out result.json [...]

Both read the same dialogues into the same windows. Timed: tokenisation + inference of every window
(model loading and reading the file are not timed; the CLI variant in run.py times everything).
`torch` is the plain-user baseline: windows in input order, fixed-size batches, each padded to its
longest window. `ort` is the project's backend (length-sorted batches cut by a token budget).
Writes JSON: timings, and per task the argmax label index of every window (for agreement/F1).
With --wassa DIR, also (untimed) the Pearson r of `perceived.empathy` with the third-party ratings of
WASSA 2023 dev turns (DIR holds dev_context_w1.txt and dev_context_labels.txt), as `eval` reports it.
"""
from __future__ import annotations

import argparse
import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

WARMUP_WINDOWS = 8
CHUNK = 512          # windows per backend call, as the scorer does (scorer.WINDOWS_PER_CHUNK)


@dataclass
class Model:
    """What the untimed validity check needs of a loaded variant."""
    predict: Callable[[list], dict]          # windows -> raw outputs
    settings: object                         # its WindowSettings
    perceived_dims: list[str]


def wassa_dev_r(model: Model, folder: str) -> float | None:
    """Pearson r of the `empathy` perceived output with the WASSA dev turns' third-party ratings."""
    from empathy_metric.training.perceived_validity import pearson
    from empathy_metric.training.wassa import wassa_windows
    if "empathy" not in model.perceived_dims:
        return None
    labelled = wassa_windows(folder, "dev", model.settings, ["empathy"])
    scores = model.predict([x.window for x in labelled])["perceived"][:, model.perceived_dims.index("empathy")]
    return pearson(scores, [x.perceived[0] for x in labelled])


def read_windows(path: str, settings):
    from empathy_metric.dialogue import DEFAULT_AGENT_ROLES
    from empathy_metric.io.readers import ReaderOptions, read_dialogues
    from empathy_metric.pipeline.windows import windows_of
    return windows_of(read_dialogues(path, ReaderOptions()), settings, DEFAULT_AGENT_ROLES)


def run_torch(args) -> tuple[dict, list, dict, Model]:
    import torch

    from empathy_metric.pipeline.encoding import WindowEncoder, load_tokenizer, pad_batch
    from empathy_metric.pipeline.windows import WindowSettings
    from empathy_metric.training.model import load_checkpoint
    torch.set_num_threads(args.threads)
    started = time.perf_counter()
    model, config = load_checkpoint(Path(args.checkpoint))
    device = torch.device(args.device)
    model.to(device)
    if args.dtype == "fp16":
        model.half()
    settings = WindowSettings.from_dict(config["window"])
    encoder = WindowEncoder(load_tokenizer(Path(args.checkpoint) / "tokenizer.json"), settings)
    windows = read_windows(args.input, settings)
    load_s = time.perf_counter() - started
    names = model.output_names()

    infer_s = [0.0]

    def forward(batch_windows):
        encoded = encoder.encode(batch_windows)
        b = pad_batch(encoded, np.arange(len(encoded)), encoder.pad_id)
        started = time.perf_counter()
        feeds = [torch.from_numpy(x).to(device, non_blocking=True)
                 for x in (b.input_ids, b.attention_mask, b.target_mask)]
        if args.dtype == "fp16":
            feeds[2] = feeds[2].half()
        with torch.inference_mode():
            outputs = model(*feeds)
        result = {n: o.float().cpu().numpy() for n, o in zip(names, outputs)}
        infer_s[0] += time.perf_counter() - started
        return result

    forward(windows[:WARMUP_WINDOWS])
    if device.type == "cuda":
        torch.cuda.synchronize()
    infer_s[0] = 0.0
    chunks: dict[str, list] = {n: [] for n in names}
    started, cpu = time.perf_counter(), time.process_time()
    for start in range(0, len(windows), args.batch_size):
        for n, value in forward(windows[start:start + args.batch_size]).items():
            chunks[n].append(value)
    if device.type == "cuda":
        torch.cuda.synchronize()
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    outputs = {n: np.concatenate(v) for n, v in chunks.items()}

    def predict(more_windows):
        parts = [forward(more_windows[start:start + args.batch_size])
                 for start in range(0, len(more_windows), args.batch_size)]
        return {n: np.concatenate([p[n] for p in parts]) for n in names}
    return outputs, windows, {"load_s": load_s, "seconds": seconds, "timed_cpu_s": cpu,
                              "inference_s": infer_s[0]}, Model(predict, settings, config.get("perceived", []))


def run_ort(args) -> tuple[dict, list, dict, Model]:
    from empathy_metric.bundle import load_bundle
    from empathy_metric.runtime import load_backend
    started = time.perf_counter()
    bundle = load_bundle(args.bundle)
    backend = load_backend(bundle, args.device, args.threads, args.max_batch_tokens, args.max_batch_size)
    windows = read_windows(args.input, bundle.window)
    load_s = time.perf_counter() - started
    backend.predict(windows[:WARMUP_WINDOWS])
    infer_s = [0.0]
    run = backend._run

    def timed_run(item):          # time inside the ORT calls (summed over threads when concurrent)
        started = time.perf_counter()
        try:
            return run(item)
        finally:
            infer_s[0] += time.perf_counter() - started
    backend._run = timed_run
    chunks: dict[str, list] = {}
    started, cpu = time.perf_counter(), time.process_time()
    chunk = getattr(backend, "windows_per_chunk", args.chunk)     # as the Scorer does (bigger on CUDA)
    for start in range(0, len(windows), chunk):
        raw = backend.predict(windows[start:start + chunk])
        for n, value in raw.outputs.items():
            chunks.setdefault(n, []).append(value)
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    outputs = {n: np.concatenate(v) for n, v in chunks.items()}
    info = {"load_s": load_s, "seconds": seconds, "timed_cpu_s": cpu, "inference_s": infer_s[0]}
    session = getattr(backend, "session", None)
    if session is not None:
        info["providers"] = session.get_providers()
    backend._run = run
    return outputs, windows, info, Model(lambda more: backend.predict(more).outputs, bundle.window, bundle.perceived)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("engine", choices=["torch", "ort"])
    parser.add_argument("--checkpoint")
    parser.add_argument("--bundle")
    parser.add_argument("--input", required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--dtype", choices=["fp32", "fp16"], default="fp32")
    parser.add_argument("--threads", type=int, required=True)
    parser.add_argument("--batch-size", type=int, default=32, help="torch baseline batch size")
    parser.add_argument("--max-batch-tokens", type=int, default=16384)
    parser.add_argument("--max-batch-size", type=int, default=128)
    parser.add_argument("--chunk", type=int, default=CHUNK)
    parser.add_argument("--wassa", help="WASSA 2023 folder: also report perceived r on its dev turns (untimed)")
    args = parser.parse_args(argv)
    outputs, windows, info, model = run_torch(args) if args.engine == "torch" else run_ort(args)
    if args.wassa:
        info["perceived_r"] = wassa_dev_r(model, args.wassa)
    result = {
        **info,
        "n_utterances": len(windows),
        "keys": [[w.dialogue_id, w.turn_index] for w in windows],
        "gold": [w.gold.get("strategy") for w in windows],
        "labels": {n[len("logits."):]: outputs[n].argmax(-1).tolist() for n in outputs if n.startswith("logits.")},
    }
    Path(args.out).write_text(json.dumps(result))


if __name__ == "__main__":
    main()
