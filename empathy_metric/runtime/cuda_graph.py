"""Which graph `--device cuda` runs, and the fp16 graph it derives (once, cached) from an int8 bundle.

A bundle exported with `--also fp16` ships its CUDA graph. The shipped model has only its int8
graph (the size cap), which on the CUDA provider would run one window per call with its quantising
nodes on the CPU; so it is dequantised and converted to fp16 (export/dequantize.py), and the result
kept in the cache folder under the int8 graph's sha256, so later runs load it directly.
"""
from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

from ..errors import MissingExtraError


def cache_dir() -> Path:
    base = os.environ.get("EMPATHY_METRIC_CACHE") or \
        Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "empathy-metric"
    return Path(base)


def cuda_graph(bundle) -> tuple[Path, bool]:
    """(graph path, whether it must run one window per call) for ORT's CUDA provider."""
    if bundle.has_file("model_fp16"):
        return bundle.file("model_fp16"), False
    runtime = bundle.manifest.get("runtime", {})
    if runtime.get("precision") != "int8":
        return bundle.file("model"), runtime.get("single_row_batches", False)
    source = bundle.file("model")
    digest = bundle.manifest["sha256"][bundle.manifest["files"]["model"]]   # checked when loaded
    target = cache_dir() / f"{digest[:32]}.fp16.onnx"
    if not target.exists():
        _derive(source, target)
    return target, False


def _derive(source: Path, target: Path) -> None:
    try:
        import onnx  # noqa: F401  (the rewrite and ORT's fp16 converter need it)
    except ImportError:
        raise MissingExtraError("onnx", "gpu", "the CUDA graph of an int8 bundle") from None
    from .dequantize import fp16_from_int8
    print(f"empathy-score: deriving the CUDA (fp16) graph of {source} once; cached in {target.parent}",
          file=sys.stderr)
    target.parent.mkdir(parents=True, exist_ok=True)
    # Written beside the target and renamed: a concurrent or interrupted run never sees half a file.
    handle, tmp = tempfile.mkstemp(dir=target.parent, suffix=".tmp")
    os.close(handle)
    try:
        fp16_from_int8(source, Path(tmp))
        os.replace(tmp, target)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
