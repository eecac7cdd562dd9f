"""Every export is validated against torch (DESIGN habit 7): the same windows run through the
checkpoint and through each new graph, the differences are recorded in the manifest
(`export_validation`), and a graph that strays beyond these tolerances fails the export with an
`ExportValidationError`, before any manifest is written (so no usable bundle is left behind).

fp32 graphs must match torch to rounding; int8 graphs may move logits (per-channel dynamic
quantisation: up to ~0.6 on the shipped model), so they are held to the labels they give and to
the perceived scores. fp16 graphs (`--also fp16`, for CUDA) need a GPU to run and are not validated
here.
"""
from __future__ import annotations

import numpy as np

from ..errors import ModelError

TOLERANCES = {
    "fp32": {"max_abs_diff": 1e-3, "min_argmax_agreement": 0.99},
    "int8": {"perceived_max_abs_diff": 0.1, "min_argmax_agreement": 0.9},
}


class ExportValidationError(ModelError):
    """An exported graph disagrees with the torch model beyond the tolerance of its precision."""


def parity(reference: dict[str, np.ndarray], candidate: dict[str, np.ndarray]) -> dict:
    """max |diff| per output and, for logits, argmax agreement with the reference."""
    report = {}
    for name, ref in reference.items():
        got = candidate[name]
        entry = {"max_abs_diff": float(np.abs(ref - got).max())}
        if name.startswith("logits."):
            entry["argmax_agreement"] = float((ref.argmax(-1) == got.argmax(-1)).mean())
        report[name] = entry
    report["min_argmax_agreement"] = min(
        (v["argmax_agreement"] for k, v in report.items() if isinstance(v, dict) and "argmax_agreement" in v),
        default=1.0)
    return report


def check_parity(precision: str, report: dict, graph: str) -> None:
    """Raise ExportValidationError naming the graph, the output and the tolerance it breaks."""
    limits = TOLERANCES[precision]
    breaches = []
    if report["min_argmax_agreement"] < limits["min_argmax_agreement"]:
        breaches.append(f"argmax agreement {report['min_argmax_agreement']:.3f} < "
                        f"{limits['min_argmax_agreement']}")
    for name, entry in report.items():
        if not isinstance(entry, dict):
            continue
        limit = limits.get("max_abs_diff") if name.startswith("logits.") else \
            limits.get("perceived_max_abs_diff", limits.get("max_abs_diff"))
        if limit is not None and entry["max_abs_diff"] > limit:
            breaches.append(f"{name} max |diff| {entry['max_abs_diff']:.3g} > {limit:g}")
    if breaches:
        raise ExportValidationError(f"{graph}: the {precision} graph disagrees with the torch model beyond "
                                    f"tolerance ({'; '.join(breaches)}); no bundle written")
