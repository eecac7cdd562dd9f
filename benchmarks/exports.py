"""The benchmark's model variants, exported from one checkpoint by the project's own export code.

Each variant is a bundle folder under the work folder. A folder is reused when its stamp says it was
made from the same checkpoint files (path, size, mtime), so a rerun does not export again.
"""
from __future__ import annotations

import json
from pathlib import Path

# The float fallback's margin of the shipped -m fast bundle (chosen on ESConv train.json windows:
# research/int8_fallback.py, research/notes/int8-robust-finetune.md); --fallback-margin changes it.
FALLBACK_MARGIN = 0.03
# name -> (default precision, optimise with ORT's transformer optimizer, extra graphs, smooth before int8,
#          with the float fallback)
EXPORTS = {
    "ort-fp32": ("fp32", False, (), False, False),         # the plain torch.onnx.export graph
    "ort-opt": ("fp32", True, (), False, False),           # + ORT transformer optimizer (fused attention, LN, GELU)
    "ort-int8": ("int8", True, (), True, False),           # optimised, smoothed, dynamic int8
    "ort-int8-fb": ("int8", True, (), True, True),         # + the float fallback (-m fast's path)
    "ort-fp16": ("fp32", True, ("fp16",), False, False),   # fp32 default + an fp16 graph that --device cuda runs
}
SMOOTH_ON = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "esconv" / "train.json"
SMOOTH_WINDOWS = 256         # as `export --smooth-on` (calibration windows from training data)
STAMP = "benchmark_source.json"


def checkpoint_stamp(checkpoint: Path) -> dict:
    files = sorted(p for p in checkpoint.rglob("*") if p.is_file())
    return {"checkpoint": str(checkpoint.resolve()),
            "files": {str(p.relative_to(checkpoint)): [p.stat().st_size, p.stat().st_mtime_ns] for p in files}}


def export_variant(name: str, checkpoint: Path, windows, work_dir: Path, log=print,
                   fallback_margin: float = FALLBACK_MARGIN) -> Path:
    from empathy_metric.export.bundle_builder import export_encoder_bundle
    from empathy_metric.pipeline.windows import WindowSettings
    out = work_dir / name
    precision, optimise, extra, smooth, fallback = EXPORTS[name]
    fallback_margin = fallback_margin if fallback else None
    stamp = {**checkpoint_stamp(checkpoint), "fallback_margin": fallback_margin}
    stamp_path = work_dir / f"{name}.{STAMP}"
    if (out / "manifest.json").is_file() and stamp_path.is_file() \
            and json.loads(stamp_path.read_text()) == stamp:
        log(f"[export] {name}: reusing {out}")
        return out
    log(f"[export] {name}: precision={precision} optimise={optimise} extra={list(extra)} smooth={smooth} "
        f"fallback_margin={fallback_margin} "
        f"(validated on {len(windows)} windows)")
    smooth_windows = None
    if smooth:
        from empathy_metric.export.commands import validation_windows
        settings = WindowSettings.from_dict(json.loads((checkpoint / "empathy_config.json").read_text())["window"])
        smooth_windows = validation_windows(str(SMOOTH_ON), settings, SMOOTH_WINDOWS)
    export_encoder_bundle(str(checkpoint), str(out), f"bench-{name}", windows, precision=precision,
                          optimise=optimise, extra_graphs=extra, smooth_windows=smooth_windows,
                          fallback_margin=fallback_margin)
    stamp_path.write_text(json.dumps(stamp))
    return out


def main(argv=None) -> None:
    """Run as a process of its own, so that torch never inflates the benchmark's own memory."""
    import argparse
    import sys
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from worker import read_windows

    from empathy_metric.pipeline.windows import WindowSettings
    parser = argparse.ArgumentParser(description="export benchmark variants")
    parser.add_argument("--checkpoint", required=True, type=Path)
    parser.add_argument("--input", required=True, help="dialogues whose first windows validate each export")
    parser.add_argument("--windows", type=int, default=64)
    parser.add_argument("--work-dir", required=True, type=Path)
    parser.add_argument("--fallback-margin", type=float, default=FALLBACK_MARGIN)
    parser.add_argument("names", nargs="+", choices=list(EXPORTS))
    args = parser.parse_args(argv)
    config = json.loads((args.checkpoint / "empathy_config.json").read_text())
    windows = read_windows(args.input, WindowSettings.from_dict(config["window"]))[:args.windows]
    for name in args.names:
        export_variant(name, args.checkpoint, windows, args.work_dir, log=lambda m: print(m, flush=True),
                       fallback_margin=args.fallback_margin)


if __name__ == "__main__":
    main()
