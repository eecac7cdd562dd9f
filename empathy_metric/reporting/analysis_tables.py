"""The tables of `analyze` as rows of text, for the terminal (compact: whole at 80 columns) and for
Markdown (every CI). Input: one entry of `analyze`'s result["analyses"] (api.relate_ratings)."""
from __future__ import annotations

from .analysis import LENGTH

DASH = "–"
LENGTH_LABEL = "reply length (log 1+words)"


def number(value: float | None, signed: bool = True, digits: int = 2) -> str:
    if value is None:
        return DASH
    return f"{value:+.{digits}f}" if signed else f"{value:.{digits}f}"


def p_value(value: float | None) -> str:
    if value is None:
        return DASH
    return "<0.001" if value < 0.001 else f"{value:.3f}"


def interval(estimate: dict, signed: bool = True, digits: int = 2) -> str:
    if estimate.get("ci_low") is not None:
        return f"[{number(estimate['ci_low'], signed, digits)}, {number(estimate['ci_high'], signed, digits)}]"
    return DASH


def _with_ci(estimate: dict | None, signed: bool = True) -> str:
    if estimate is None:
        return DASH
    text = number(estimate["value"], signed)
    if estimate.get("ci_low") is None and estimate.get("ci_note"):
        return f"{text} ({estimate['ci_note']})"         # says why there is none
    return text + (f" {interval(estimate, signed)}" if estimate.get("ci_low") is not None else "")


def title(analysis: dict) -> str:
    """What was rated, by whom, and on how much data."""
    text = f"rating '{analysis['rating']}' ({analysis['level']} level, {analysis['source']})"
    if "n_units" in analysis:
        units = "" if analysis["level"] == "dialogue" else f"{analysis['n_units']} rated turn groups in "
        text += (f": {units}{analysis['n_dialogues']} dialogues, mean {analysis['rating_mean']:.2f}; "
                 f"high = rating >= {analysis['high']:g} ({analysis['n_high']} of {analysis['n_units']})")
    return text


def matching_line(analysis: dict) -> str:
    """How the rating's values met the scored data: matched, unmatched by reason, missing."""
    matching = analysis["matching"]
    parts = [f"{matching['matched']} of {matching['ratings']} ratings matched"]
    parts += [f"{entry['count']} {reason.replace('_', ' ')}" for reason, entry in matching["unmatched"].items()]
    if matching.get("missing_in_records"):
        parts.append(f"{matching['missing_in_records']} records without a value")
    parts.append(f"{analysis['scored_dialogues_without_rating']} scored dialogues without this rating")
    return "; ".join(parts)


def _grouped(entries: list[tuple[str, str, list[str]]], width: int) -> list[list[str]]:
    """(group, name, cells) -> a row with each group, then its names indented: whole names at 80
    columns. An entry without a group is a row of its own."""
    rows, current = [], None
    for group, name, cells in entries:
        if group and group != current:
            rows.append([group] + [""] * (width - 1))
        current = group
        rows.append([("  " + name) if group else name, *cells])
    return rows


def agreement_table(analysis: dict, compact: bool) -> tuple[list[str], list[list[str]]]:
    """Compact: metric (grouped by prefix), r, its CI, rho, AUC, partial r. Full: each statistic with its CI."""
    if compact:
        headers = ["metric", "r", "CI of r", "rho", "AUC", "partial r"]
    else:
        headers = ["metric", "Pearson r [CI]", "Spearman rho [CI]", "ROC-AUC [CI]", "partial r, length removed [CI]"]
    entries = []
    for entry in analysis.get("agreement", []):
        if entry["metric"] == LENGTH:
            group, name = "", LENGTH_LABEL
        else:
            group, _, name = entry["metric"].rpartition(".")
        partial = entry.get("partial_pearson")
        if compact:
            cells = [number(entry["pearson"]["value"]), interval(entry["pearson"]),
                     number(entry["spearman"]["value"]), number(entry["auc"]["value"], signed=False),
                     number(partial["value"]) if partial else DASH]
            entries.append((group, name, cells))
        else:
            cells = [_with_ci(entry["pearson"]), _with_ci(entry["spearman"]), _with_ci(entry["auc"], signed=False),
                     _with_ci(partial)]
            entries.append(("", entry["metric"] if group else name, cells))
    return headers, _grouped(entries, len(headers))


def intent_table(analysis: dict, compact: bool) -> tuple[list[str], list[list[str]]]:
    """Table 2: mean rating with the intent present / absent, the difference, its CI and Holm's p.
    Compact rows are grouped by task."""
    if compact:
        headers = ["intent", "n with", "with", "without", "diff", "CI of diff", "p Holm"]
    else:
        headers = ["intent", "n with", "n without", "mean with", "mean without", "difference [CI]",
                   "Mann-Whitney U", "p", "p (Holm)"]
    entries = []
    for entry in analysis.get("intents", []):
        means = [number(entry["mean_present"], signed=False), number(entry["mean_absent"], signed=False)]
        if compact:
            entries.append((entry["task"], entry["label"],
                            [str(entry["n_present"]), *means, number(entry["difference"]["value"]),
                             interval(entry["difference"]), p_value(entry["p_holm"])]))
        else:
            u = DASH if entry["mann_whitney_u"] is None else f"{entry['mann_whitney_u']:g}"
            entries.append(("", entry["intent"], [str(entry["n_present"]), str(entry["n_absent"]), *means,
                                                  _with_ci(entry["difference"]), u, p_value(entry["p_value"]),
                                                  p_value(entry["p_holm"])]))
    return headers, _grouped(entries, len(headers))
