"""Near-tie int8 labels recomputed in float (export/fallback.py says why and how the graphs are cut).

One window per call, like the int8 graph itself, so a window's result never depends on its
batch-mates, the batch size or the thread that ran it.
"""
from __future__ import annotations

import numpy as np

# graph outputs the int8 graph adds for the fallback, and the fallback graph's inputs
EMBEDDED = "embedded"
MASK_INDEX = "mask_index"


def smallest_margin(outputs: dict[str, np.ndarray]) -> np.ndarray:
    """Per row, the smallest gap between the top two logits over the label heads."""
    gaps = [np.diff(np.sort(v, axis=-1)[:, -2:], axis=-1)[:, 0] for k, v in outputs.items() if k.startswith("logits.")]
    return np.min(gaps, axis=0)


class FloatFallback:
    """Runs the fallback graph for the windows whose int8 labels sit within `margin` of a tie."""

    def __init__(self, session, margin: float):
        self.session = session
        self.margin = float(margin)
        self.output_names = [o.name for o in session.get_outputs()]

    def needed(self, outputs: dict[str, np.ndarray]) -> bool:
        return bool(smallest_margin(outputs).min() < self.margin)

    def apply(self, outputs: dict[str, np.ndarray], target_mask: np.ndarray) -> dict[str, np.ndarray]:
        """`outputs` of one window from the int8 graph (with its embedding outputs) -> the labels'
        outputs, from the float graph where the int8 margin is under the threshold."""
        embedded, mask_index = outputs.pop(EMBEDDED), outputs.pop(MASK_INDEX)
        if not self.needed(outputs):
            return outputs
        values = self.session.run(self.output_names, {EMBEDDED: embedded, MASK_INDEX: mask_index,
                                                      "target_mask": target_mask})
        return dict(zip(self.output_names, values))
