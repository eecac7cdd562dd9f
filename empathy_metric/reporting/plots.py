"""The HTML report's plots: matplotlib figures written as SVG text, to be inlined in the page.

The same data give the same bytes: each plot has its own fixed hash salt (so the ids of clip paths
differ between plots on one page, and never change between runs), no date or creator metadata, and
text stays text (`svg.fonttype: none`: the browser draws it, no glyph paths). Figures are made with
`matplotlib.figure.Figure`, never pyplot: no global backend or state is touched.
"""
from __future__ import annotations

import io
import re

import numpy as np
from matplotlib import rc_context
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

NO_METADATA = {"Date": None, "Creator": None, "Format": None, "Type": None}
# One font named in the SVG (not matplotlib's list of ten fallbacks, repeated on every label).
STYLE = {"svg.fonttype": "none", "font.size": 8, "font.sans-serif": ["DejaVu Sans"], "axes.spines.top": False,
         "axes.spines.right": False, "axes.titlesize": 8, "axes.labelsize": 8, "legend.fontsize": 7,
         "legend.frameon": False}
PERCEIVED_COLOURS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#9467bd", "#8c564b", "#e377c2")
REGRESSION, IMPROVEMENT, UNCHANGED = "#c0392b", "#1e8449", "#7f8c8d"
BINS = 20


def svg_of(figure: Figure, salt: str) -> str:
    """The figure as an inline <svg> element (no XML prolog, no DOCTYPE: it lives inside HTML)."""
    with rc_context({**STYLE, "svg.hashsalt": salt}):
        buffer = io.StringIO()
        figure.savefig(buffer, format="svg", metadata=NO_METADATA)
    text = buffer.getvalue()
    # matplotlib indents its SVG and breaks path data over lines: whitespace that draws nothing, a
    # tenth of a plot's bytes
    return re.sub(r">\s+<", "><", re.sub(r"\s*\n\s*", " ", text[text.index("<svg"):]))


def _figure(width: float, height: float, layout: str | None = "constrained") -> Figure:
    with rc_context(STYLE):          # the style applies to what is created inside the context
        return Figure(figsize=(width, height), layout=layout)


def distribution_plot(name: str, values: np.ndarray, upper: float, mean: float,
                      ci: tuple[float, float] | None) -> str:
    """Histogram of a metric's per-dialogue values over its range [0, upper], the mean as a line
    and the CI of the mean as a band."""
    figure = _figure(4.2, 1.6)
    with rc_context(STYLE):
        axes = figure.add_subplot()
        axes.hist(values, bins=np.linspace(0.0, upper, BINS + 1), color="#9db4d0", edgecolor="white")
        if ci is not None:
            axes.axvspan(ci[0], ci[1], color="#f5b041", alpha=0.35, lw=0, label="CI of the mean")
        axes.axvline(mean, color="#c0392b", lw=1.2, label=f"mean {mean:.3f}")
        axes.set_xlim(0.0, upper)
        axes.set_xlabel("per-dialogue value")
        axes.set_ylabel("dialogues")
        axes.legend(loc="upper right")
    return svg_of(figure, f"distribution:{name}")


def perceived_colours(dims: list[str]) -> dict[str, str]:
    """The colour of each perceived dimension's line (the page shows this legend once, in HTML)."""
    return {dim: PERCEIVED_COLOURS[k % len(PERCEIVED_COLOURS)] for k, dim in enumerate(dims)}


class CurvePlotter:
    """Perceived scores over one conversation, a line per dimension, no legend (perceived_colours).
    One figure is reused for every dialogue (a new figure per dialogue costs ~3x the time)."""

    def __init__(self, dims: list[str]):
        # fixed margins: the layout engine would cost a third of the time of each of ~500 plots
        self.figure = _figure(4.6, 1.4, layout=None)
        with rc_context(STYLE):
            self.axes = self.figure.add_axes((0.09, 0.3, 0.89, 0.65))
            self.lines = [self.axes.plot([], [], lw=1.2, color=colour)[0]
                          for colour in perceived_colours(dims).values()]
            self.axes.set_ylim(0.0, 1.0)
            self.axes.set_yticks([0.0, 0.5, 1.0])
            self.axes.xaxis.set_major_locator(MaxNLocator(nbins=6, integer=True))
            self.axes.set_xlabel("turn")
        self.dims = dims

    def plot(self, key: str, turn_indices: list[int], scores: list[dict[str, float]]) -> str:
        for line, dim in zip(self.lines, self.dims):
            line.set_data(turn_indices, [s[dim] for s in scores])
        self.axes.set_xlim(min(turn_indices) - 0.5, max(turn_indices) + 0.5)
        return svg_of(self.figure, f"curve:{key}")


def change_colour(change: str | None) -> str:
    return {"regression": REGRESSION, "improvement": IMPROVEMENT}.get(change or "", UNCHANGED)


def delta_plot(table: dict[str, dict]) -> str:
    """Forest plot of compare's deltas: each metric's delta (candidate - baseline) with its paired CI,
    red for a regression, green for an improvement (comparison.change_of)."""
    names = list(table)
    figure = _figure(6.4, 0.5 + 0.2 * len(names))
    with rc_context(STYLE):
        axes = figure.add_subplot()
        for row, name in enumerate(names):
            entry = table[name]
            colour = change_colour(entry.get("change"))
            if "ci_low" in entry:
                axes.plot([entry["ci_low"], entry["ci_high"]], [row, row], color=colour, lw=1.5)
            axes.plot([entry["delta"]], [row], "o", color=colour, ms=3.5)
        axes.axvline(0.0, color="black", lw=0.6)
        axes.set_yticks(range(len(names)), names)
        axes.set_ylim(len(names) - 0.5, -0.5)
        axes.set_xlabel("delta (candidate - baseline), with paired CI")
    return svg_of(figure, "deltas")
