"""`-o summary.md`: a short Markdown summary of a run (gates, key metrics with CIs, regressions) for a
GitHub job summary (`$GITHUB_STEP_SUMMARY`) or a PR comment. Plain text: no extra needed.

It leads with the decision: the gates' verdict in the title, then the headline metrics with their CIs
and reference points (headline.py). Key metrics are those with a better direction; descriptive ones
(e.g. strategy shares) are in a collapsed table with the rest, in the same order as every output."""
from __future__ import annotations

import re
import unicodedata

from .headline import headline_metrics, ordered_metrics, scale_points, verdict_line
from .metric_catalog import HIGHER, LOWER

BETTER = {HIGHER: "higher", LOWER: "lower"}


def _visible(char: str) -> str:
    """A control, format or line/paragraph separator character written as its escape (`\\n`): a raw
    line end in a file name would start a line of its own (a heading, a table row)."""
    if unicodedata.category(char)[0] == "C" or unicodedata.category(char) in ("Zl", "Zp"):
        return char.encode("unicode_escape").decode("ascii")
    return char


def code(text) -> str:
    """A user-controlled string (a file name, a model name, an id) as one inline code span, whatever it
    holds: no line ends, and a backtick fence longer than any run of backticks inside (CommonMark),
    so that nothing in it can close the span or become Markdown or HTML."""
    text = "".join(_visible(c) for c in str(text))
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * (longest + 1)
    pad = " " if text.startswith("`") or text.endswith("`") or not text.strip(" ") else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def plain(text) -> str:
    """A string from a model's manifest (a reference point's name) inside a line as plain text: the
    characters that start emphasis, code, links, HTML or a table cell backslash-escaped, line ends
    written as escapes."""
    return re.sub(r"([\\`*_\[\]<>|~])", r"\\\1", "".join(_visible(c) for c in str(text)))


def _cell(text) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def _table(header: list[str], rows: list[list]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    return lines + ["| " + " | ".join(_cell(c) for c in row) + " |" for row in rows]


def _collapsed(title: str, header: list[str], rows: list[list]) -> list[str]:
    return [f"<details><summary>{title}</summary>", ""] + _table(header, rows) + ["", "</details>", ""]


def _num(value, digits: int = 3, signed: bool = False) -> str:
    if value is None:
        return "–"
    value += 0.0                              # -0.0 (a --max-drop of 0, negated) is 0
    text = f"{value:+.{digits}f}" if signed else f"{value:.{digits}f}"
    if value and not text.lstrip("+-").strip("0."):      # not zero, but it rounds to zero: say how small
        text = f"{value:+.2g}" if signed else f"{value:.2g}"
    return text


def _ci(entry: dict, digits: int = 3, signed: bool = False) -> str:
    if "ci_low" not in entry:
        return "–"
    return f"[{_num(entry['ci_low'], digits, signed)}, {_num(entry['ci_high'], digits, signed)}]"


def _count(items: list, noun: str) -> str:
    return f"{len(items)} {noun}{'' if len(items) == 1 else 's'}"


def _level(bootstrap: dict) -> str:
    return f"{bootstrap['confidence']:.0%} CI" if bootstrap.get("n_resamples") else "CI"


def _gates(gates: list[dict]) -> tuple[str, list[str]]:
    """A verdict for the title and the gates table."""
    if not gates:
        return "", []
    failed = sum(not g["passed"] for g in gates)
    verdict = ("❌ " if failed else "✅ ") + verdict_line(gates)
    rows = [[code(g["option"]), "✅ PASS" if g["passed"] else "❌ FAIL", g["judged_on"],
             _num(g["judged_value"], 4), _num(g["threshold"], 4), g["reason"]] for g in gates]
    return verdict, _table(["gate", "verdict", "judged on", "value", "threshold", "why"], rows) + [""]


def _document(title: str, intro: str, gates: list[dict], header: list[str], row, names: list[str],
              highlighted: list[tuple[str, list[str]]], lead: list[str] = ()) -> str:
    """The title (with the gates' verdict), the `lead` lines (the headline), an intro line, the gates,
    tables of the `highlighted` metrics, then every metric in a collapsed table; `row(name)` gives a
    metric's cells. It ends with a blank line, so that a document appended to it (`cat summary.md
    diff.md`) starts a new block instead of running on inside the closing HTML block."""
    verdict, gate_lines = _gates(gates)
    lines = [f"### {title}{' · ' + verdict if verdict else ''}", ""] + list(lead) + [intro, ""] + gate_lines
    for heading, chosen in highlighted:
        if chosen:
            lines += [f"**{heading}**", ""] + _table(header, [row(n) for n in chosen]) + [""]
    return "\n".join(lines + _collapsed(f"All {len(names)} metrics", header, [row(n) for n in names])) + "\n"


def _headline(summary: dict, level: str) -> list[str]:
    """Per headline metric a paragraph: its mean and CI in bold, then its place among the model's
    reference points, `this run` in bold."""
    lines = []
    references = summary.get("references", {})
    for name in headline_metrics(summary["corpus"]):
        entry = summary["corpus"][name]
        ci = f" {_ci(entry)} ({level})" if "ci_low" in entry else ""
        lines.append(f"**{code(name)} {_num(entry['mean'])}**{ci}")
        points = scale_points(entry["mean"], references.get(name, []))
        if points:
            lines[-1] += "  "          # a hard line break before the scale
            lines.append("Reference points: " + " · ".join(f"**{n} {v}**" if mine else f"{plain(n)} {v}"
                                                           for n, v, mine in points))
        lines.append("")
    return lines


def score_markdown(summary: dict, directions: dict[str, str]) -> str:
    counts, signature, corpus = summary["counts"], summary["signature"], summary["corpus"]
    level = _level(summary.get("bootstrap", {}))
    inputs = ", ".join(code(path) for path in summary["inputs"])
    intro = (f"Model {code(signature['model'])} (manifest sha256 {code(signature['manifest_sha256'][:12])}) on {inputs}: "
             f"{counts['dialogues_scored']} dialogues, {counts['turns_scored']} agent turns scored, "
             f"{sum(counts['records_skipped'].values())} records skipped. Means over dialogues, {level}.")

    def row(name: str) -> list:
        return [code(name), BETTER.get(directions.get(name), "–"), _num(corpus[name]["mean"]), _ci(corpus[name])]
    names = ordered_metrics(list(corpus), directions)
    key = [n for n in names if directions.get(n) in BETTER]
    return _document("empathy-score", intro, summary.get("gates", []), ["metric", "better", "mean", level], row,
                     names, [("Key metrics", key)], lead=_headline(summary, level))


def compare_markdown(result: dict) -> str:
    table = result["metrics"]
    level = _level(result.get("bootstrap", {}))
    changed = {kind: [n for n, e in table.items() if e.get("change") == kind]
               for kind in ("regression", "improvement")}
    title = (f"{_count(changed['regression'], 'regression')}, {_count(changed['improvement'], 'improvement')}"
             if result.get("bootstrap", {}).get("n_resamples") else "deltas (no CIs)")
    intro = (f"Candidate {code(result['candidate']['input'])} against baseline {code(result['baseline']['input'])}, "
             f"{result['pairing']['n_paired']} dialogues paired by id. Delta = candidate - baseline, "
             f"paired {level}; a regression is a CI wholly on the metric's bad side of 0.")

    def row(name: str) -> list:
        e = table[name]
        return [code(name), BETTER.get(e["direction"], "–"), _num(e["baseline"]), _num(e["candidate"]),
                _num(e["delta"], signed=True), _ci(e, signed=True)]
    return _document(f"empathy-score compare: {title}", intro, result.get("gates", []),
                     ["metric", "better", "baseline", "candidate", "delta", level], row,
                     ordered_metrics(list(table), {n: e["direction"] for n, e in table.items()}),
                     [("Regressions", changed["regression"]), ("Improvements", changed["improvement"])])
