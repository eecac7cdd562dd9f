"""The HTML reports of `score -o report.html` and `compare -o diff.html`: one self-contained page
(styles, script and SVG plots inline; nothing is fetched, it opens offline), rendered by Jinja2 from
templates/ beside this module, plots by matplotlib (plots.py).

Why Jinja2 + matplotlib SVG rather than plotly: plotly's inlined JavaScript alone is ~4.6 MB, the
whole budget of a 200-dialogue report; SVG needs no script to draw and is byte-stable.
The same inputs and seed give the same bytes: the page holds no timestamp.

Needs the [report] extra (jinja2, matplotlib), imported only when a report is written;
`require_report_extra` says so before any work is done.
"""
from __future__ import annotations

import importlib.util
import re

import numpy as np

from ..errors import UsageError
from ..schemas import Task
from ..version import __version__
from .headline import headline_metrics, ordered_metrics, scale_points, verdict_line
from .metric_catalog import HIGHER, LOWER, VALIDITY_FLOOR, MetricInfo, directions_of, finite_number, grouped
from .transcripts import Transcript

REPORT_MODULES = ("jinja2", "matplotlib")
NOMINAL_COLOURS = ("#d6eaf8", "#d5f5e3", "#fdebd0", "#e8daef", "#fadbd8", "#d1f2eb", "#fcf3cf", "#e5e7e9",
                   "#f6ddcc", "#d4e6f1", "#ebdef0", "#d0ece7", "#f9e79f", "#f5cba7", "#aed6f1", "#abebc6")
ORDINAL_COLOURS = ("#e5e7e9", "#fdebd0", "#abebc6")       # none, weak, strong
ARROWS = {HIGHER: "higher is better", LOWER: "lower is better"}


def require_report_extra(path: str) -> None:
    """A UsageError naming the extra when an HTML report is asked for without it (before any work)."""
    missing = [name for name in REPORT_MODULES if importlib.util.find_spec(name) is None]
    if missing:
        raise UsageError(f"-o {path}: an HTML report needs the 'report' extra (missing: {', '.join(missing)}): "
                         "pip install 'empathy-metric[report]'")


def _environment():
    import jinja2
    import markupsafe
    environment = jinja2.Environment(loader=jinja2.PackageLoader("empathy_metric.reporting", "templates"),
                                     autoescape=True, undefined=jinja2.StrictUndefined,
                                     trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True)
    environment.filters["num"] = lambda value, digits=3: "–" if value is None else f"{value:.{digits}f}"
    environment.filters["signed"] = lambda value, digits=3: "–" if value is None else f"{value:+.{digits}f}"
    # a line may break after a dot or an underscore of a metric name (table headers stay narrow)
    environment.filters["breakable"] = lambda name: markupsafe.Markup("<wbr>").join(
        markupsafe.escape(part) for part in re.split(r"(?<=[._])", name))
    return environment


def render(template: str, **context) -> str:
    return _environment().get_template(template).render(version=__version__, **context)


def _interval(value, signed: bool = False) -> str:
    bounds = [finite_number(v) for v in value] if isinstance(value, (list, tuple)) and len(value) == 2 else []
    if len(bounds) != 2 or None in bounds:
        return ""
    return " [" + ", ".join(f"{b:+.3f}" if signed else f"{b:.2f}" for b in bounds) + "]"


def validity_note(entry, model_free: bool = False) -> str:
    """A metric's measured agreement with people: its entry in the manifest's `validity` block
    (`eval --record-validity`: dialogue_r, dialogue_r_ci, length_partialled_r(_ci), corpus_bias(_ci),
    n_dialogues, data), read defensively; "not measured" when the model has none."""
    if model_free:
        return "no model: computed from the turn texts"
    r = finite_number(entry.get("dialogue_r")) if isinstance(entry, dict) else None
    if r is None:
        return "not measured"
    text = f"dialogue-level r {r:.2f}{_interval(entry.get('dialogue_r_ci'))}"
    partialled = finite_number(entry.get("length_partialled_r"))
    if partialled is not None:
        text += f" ({partialled:.2f}{_interval(entry.get('length_partialled_r_ci'))} with reply length partialled out)"
    bias = finite_number(entry.get("corpus_bias"))
    if bias is not None:
        text += f"; corpus bias {bias:+.3f}{_interval(entry.get('corpus_bias_ci'), signed=True)}"
    n = entry.get("n_dialogues")
    if isinstance(n, int) and not isinstance(n, bool):
        text += f"; n = {n} dialogues"
    if isinstance(entry.get("data"), str) and entry["data"]:
        text += f"; {entry['data']}"
    if r < VALIDITY_FLOOR:
        text += f". Below the {VALIDITY_FLOOR} floor: a gate on it is mostly noise"
    return text


SELF_EXPLAINING_LABELS = 4     # a task with this many labels or more is told by its label alone (strategies)


def label_chips(tasks: list[Task]) -> tuple[dict[str, dict[str, tuple[str, str]]], list[str]]:
    """The chip of each (task, label): its text (the task is named unless its labels say it, as
    ESConv strategies do; EMH levels and yes/no do not) and CSS class, and the CSS rules that colour
    them (ordinal levels grey -> amber -> green). Classes, not inline styles: a page holds ~10k chips."""
    chips, rules = {}, []
    for t, task in enumerate(tasks):
        palette = ORDINAL_COLOURS if task.ordinal and len(task.labels) == len(ORDINAL_COLOURS) else NOMINAL_COLOURS
        named = len(task.labels) < SELF_EXPLAINING_LABELS
        chips[task.name] = {}
        for k, label in enumerate(task.labels):
            chips[task.name][label] = (f"{task.name.replace('_', ' ')}: {label}" if named else label, f"c{t}-{k}")
            rules.append(f".c{t}-{k} {{ background: {palette[k % len(palette)]}; }}")
    return chips, rules


def _range_top(info: MetricInfo) -> float:
    return float(info.range.partition("..")[2] or 1)


def _metric_sections(summary: dict, catalog: list[MetricInfo]) -> list[dict]:
    """Per task (and `perceived`): each metric's direction, meaning, mean and CI, distribution plot and
    validity."""
    from .plots import distribution_plot
    infos = {info.name: info for info in catalog}
    rows = summary["dialogues"]
    sections = []
    ordered = ordered_metrics(list(summary["corpus"]), directions_of(catalog))
    tasks = list(dict.fromkeys(name.partition(".")[0] for name in ordered))    # perceived first
    for task in tasks:
        metrics = []
        for name in (n for n in ordered if n.partition(".")[0] == task):    # gateable before descriptive
            entry, info = summary["corpus"][name], infos[name]
            ci = (entry["ci_low"], entry["ci_high"]) if "ci_low" in entry else None
            values = np.array([row["metrics"][name] for row in rows], dtype=np.float64)
            metrics.append({"name": name, "direction": ARROWS.get(info.direction, "descriptive"),
                            "meaning": info.meaning, "mean": entry["mean"], "ci": ci,
                            "ci_note": entry.get("ci_note"), "validity": validity_note(info.validity, info.model_free),
                            "plot": distribution_plot(name, values, _range_top(info), entry["mean"], ci)})
        sections.append({"task": task, "metrics": metrics})
    return sections


def _headline(summary: dict, catalog: list[MetricInfo]) -> list[dict]:
    """Each headline metric's mean, CI and place among its reference points (headline.py)."""
    infos = {info.name: info for info in catalog}
    views = []
    for name in headline_metrics(summary["corpus"]):
        entry, points = summary["corpus"][name], summary.get("references", {}).get(name, [])
        views.append({"name": name, "mean": entry["mean"],
                      "ci": (entry["ci_low"], entry["ci_high"]) if "ci_low" in entry else None,
                      "direction": ARROWS.get(infos[name].direction, "descriptive") if name in infos else "",
                      "scale": scale_points(entry["mean"], points),
                      "sources": {p["name"]: p.get("source", "") for p in points}})
    return views


def _transcript_views(transcripts: list[Transcript], dims: list[str], side: str = "") -> list[dict]:
    """What the template shows of each transcript, with its perceived-score curve."""
    from .plots import CurvePlotter
    plotter = CurvePlotter(dims) if dims else None
    views = []
    for transcript in transcripts:
        scored = [t for t in transcript.turns if t.scored]
        curve = (plotter.plot(f"{side}{transcript.dialogue_id}", [t.index for t in scored],
                              [t.perceived for t in scored]) if plotter and scored else None)
        views.append({"transcript": transcript, "curve": curve,
                      "has_text": any(t.text for t in transcript.turns)})
    return views


def table_metrics(names: list[str], sort_by: str) -> list[str]:
    """The columns of the dialogues table: the sort metric, the other perceived scores, the mean levels."""
    shown = [n for n in names if n.startswith("perceived.")] + [n for n in names if n.endswith(".mean_level")]
    return [sort_by] + [n for n in shown if n != sort_by]


def score_report(summary: dict, catalog: list[MetricInfo], tasks: list[Task], dims: list[str],
                 transcripts: list[Transcript], sort_by: str) -> str:
    """The page of one scoring run. `catalog`: the metrics with the model's validity
    (metric_catalog.catalog); `transcripts`: those kept (transcripts.LowestTranscripts), lowest on
    `sort_by` first."""
    from .plots import perceived_colours
    confidence = summary.get("bootstrap", {}).get("confidence")
    chips, chip_styles = label_chips(tasks)
    return render("score_report.html.j2", summary=summary, confidence=confidence, chip_styles=chip_styles,
                  headline=_headline(summary, catalog), verdict=verdict_line(summary.get("gates", [])),
                  curve_colours=perceived_colours(dims),
                  sections=_metric_sections(summary, catalog),
                  columns=table_metrics(list(summary["corpus"]), sort_by), sort_by=sort_by,
                  dialogues=_transcript_views(transcripts, dims), chips=chips,
                  n_dialogues=len(summary["dialogues"]), gates=summary.get("gates", []))


def compare_report(result: dict, catalog: list[MetricInfo], tasks: list[Task], dims: list[str], drops: list[dict],
                   sort_by: str) -> str:
    """The page of `compare`. `drops`: {"dialogue_id", "delta", "baseline", "candidate"} (transcripts,
    or None where a side has none), the dialogues that dropped most on `sort_by`, worst first."""
    from .plots import delta_plot, perceived_colours
    table = result["metrics"]
    validity = {info.name: validity_note(info.validity, info.model_free) for info in catalog}
    groups = [{"prefix": prefix, "metrics": [dict(table[f"{prefix}.{leaf}" if prefix else leaf],
                                                   name=f"{prefix}.{leaf}" if prefix else leaf, leaf=leaf,
                                                   validity=validity[f"{prefix}.{leaf}" if prefix else leaf])
                                              for leaf in leaves]}
              for prefix, leaves in grouped(ordered_metrics(list(table), {n: e["direction"] for n, e in table.items()}))]
    sides = {side: _transcript_views([d[side] for d in drops if d[side] is not None], dims, side)
             for side in ("baseline", "candidate")}
    by_id = {side: {v["transcript"].dialogue_id: v for v in views} for side, views in sides.items()}
    pairs = [{"dialogue_id": d["dialogue_id"], "delta": d["delta"],
              "baseline": by_id["baseline"].get(d["dialogue_id"]),
              "candidate": by_id["candidate"].get(d["dialogue_id"])} for d in drops]
    changes = [e.get("change") for e in table.values()]
    chips, chip_styles = label_chips(tasks)
    return render("compare_report.html.j2", result=result, groups=groups, plot=delta_plot(table),
                  chip_styles=chip_styles, curve_colours=perceived_colours(dims),
                  confidence=result.get("bootstrap", {}).get("confidence"), pairs=pairs, sort_by=sort_by,
                  chips=chips, gates=result.get("gates", []),
                  n_regressions=changes.count("regression"), n_improvements=changes.count("improvement"),
                  arrows=ARROWS)


def analysis_report(result: dict) -> str:
    """The page of one `analyze` run: per rating, how it matched and its two tables (analysis_tables)."""
    from .analysis_tables import agreement_table, intent_table, matching_line, title
    sections = []
    for analysis in result["analyses"]:
        tables = []
        if "agreement" in analysis:
            for make, caption in ((agreement_table, "Agreement of each metric with the rating (ROC-AUC: the "
                                                    f"rating made binary at {analysis['high']:g})"),
                                  (intent_table, "Mean rating with and without each expressed intent (Table 2 "
                                                 "of Xu & Jiang): Mann-Whitney U, Holm-corrected")):
                headers, rows = make(analysis, compact=False)
                tables.append({"caption": caption, "headers": headers, "rows": rows})
        sections.append({"title": title(analysis), "matching": matching_line(analysis), "tables": tables})
    return render("analysis_report.html.j2", result=result, sections=sections, chip_styles=[])
