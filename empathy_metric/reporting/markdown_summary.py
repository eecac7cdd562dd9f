"""`-o summary.md`: a short Markdown summary of a run (gates, key metrics with CIs, regressions) for a
GitHub job summary (`$GITHUB_STEP_SUMMARY`) or a PR comment. Plain text: no extra needed.

Key metrics are those with a better direction; descriptive ones (e.g. strategy shares) are in a
collapsed table with the rest."""
from __future__ import annotations

from .metric_catalog import HIGHER, LOWER

BETTER = {HIGHER: "higher", LOWER: "lower"}


def _cell(text) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def _table(header: list[str], rows: list[list]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    return lines + ["| " + " | ".join(_cell(c) for c in row) + " |" for row in rows]


def _num(value, digits: int = 3, signed: bool = False) -> str:
    if value is None:
        return "–"
    return f"{value:+.{digits}f}" if signed else f"{value:.{digits}f}"


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
    verdict = (f"❌ FAIL: {failed} of {len(gates)} gates failed" if failed
               else f"✅ PASS: {len(gates)} of {len(gates)} gates passed")
    rows = [[f"`{g['option']}`", "✅ PASS" if g["passed"] else "❌ FAIL", g["judged_on"],
             _num(g["judged_value"], 4), _num(g["threshold"], 4), g["reason"]] for g in gates]
    return verdict, _table(["gate", "verdict", "judged on", "value", "threshold", "why"], rows) + [""]


def score_markdown(summary: dict, directions: dict[str, str]) -> str:
    verdict, gate_lines = _gates(summary.get("gates", []))
    counts, signature, corpus = summary["counts"], summary["signature"], summary["corpus"]
    level = _level(summary.get("bootstrap", {}))
    inputs = ", ".join(f"`{path}`" for path in summary["inputs"])
    lines = [f"### empathy-score{': ' + verdict if verdict else ''}", "",
             f"Model `{signature['model']}` (manifest sha256 `{signature['manifest_sha256'][:12]}`) on {inputs}: "
             f"{counts['dialogues_scored']} dialogues, {counts['turns_scored']} agent turns scored, "
             f"{sum(counts['records_skipped'].values())} records skipped. Means over dialogues, {level}.", ""]
    lines += gate_lines

    def rows(names):
        return [[f"`{n}`", BETTER.get(directions.get(n), "–"), _num(corpus[n]["mean"]), _ci(corpus[n])]
                for n in names]
    header = ["metric", "better", "mean", level]
    key = [n for n in corpus if directions.get(n) in BETTER]
    if key:
        lines += ["**Key metrics**", ""] + _table(header, rows(key)) + [""]
    lines += [f"<details><summary>All {len(corpus)} metrics</summary>", ""] + _table(header, rows(list(corpus)))
    return "\n".join(lines + ["", "</details>", ""])


def compare_markdown(result: dict) -> str:
    verdict, gate_lines = _gates(result.get("gates", []))
    table = result["metrics"]
    level = _level(result.get("bootstrap", {}))
    changed = {kind: [n for n, e in table.items() if e.get("change") == kind]
               for kind in ("regression", "improvement")}
    title = (f"{_count(changed['regression'], 'regression')}, {_count(changed['improvement'], 'improvement')}"
             if "bootstrap" in result and result["bootstrap"].get("n_resamples") else "deltas (no CIs)")
    lines = [f"### empathy-score compare: {title}{' · ' + verdict if verdict else ''}", "",
             f"Candidate `{result['candidate']['input']}` against baseline `{result['baseline']['input']}`, "
             f"{result['pairing']['n_paired']} dialogues paired by id. Delta = candidate - baseline, "
             f"paired {level}; a regression is a CI wholly on the metric's bad side of 0.", ""]
    lines += gate_lines

    def rows(names):
        return [[f"`{n}`", BETTER.get(table[n]["direction"], "–"), _num(table[n]["baseline"]),
                 _num(table[n]["candidate"]), _num(table[n]["delta"], signed=True), _ci(table[n], signed=True)]
                for n in names]
    header = ["metric", "better", "baseline", "candidate", "delta", level]
    for kind, title in (("regression", "Regressions"), ("improvement", "Improvements")):
        if changed[kind]:
            lines += [f"**{title}**", ""] + _table(header, rows(changed[kind])) + [""]
    lines += [f"<details><summary>All {len(table)} metrics</summary>", ""] + _table(header, rows(list(table)))
    return "\n".join(lines + ["", "</details>", ""])
