"""What every output leads with: the gates' verdict, then the headline metrics (the perceived scores,
`perceived.empathy` first) with their CIs, each placed on the scale of its reference points (the
manifest's `references`: what the model scores on named reference releases, e.g. a canned bot and
real human supporters); then every other metric in one fixed order, gateable before descriptive.

The table, `.md`, `.html` and JUnit outputs all order metrics with `ordered_metrics`, so they read the
same way."""
from __future__ import annotations

from .metric_catalog import HIGHER, LOWER, finite_number

HEADLINE_PREFIX = "perceived."
HEADLINE_FIRST = "perceived.empathy"


def is_headline(name: str) -> bool:
    return name.startswith(HEADLINE_PREFIX)


def ordered_metrics(names: list[str], directions: dict[str, str]) -> list[str]:
    """Headline metrics (perceived.empathy first), then metrics with a better direction, then
    descriptive ones; the model's own order within each group."""
    def rank(name: str) -> int:
        if name == HEADLINE_FIRST:
            return 0
        if is_headline(name):
            return 1
        return 2 if directions.get(name) in (HIGHER, LOWER) else 3
    return sorted(names, key=rank)           # stable: the model's order within a group


def references_of(manifest: dict | None) -> dict[str, list[dict]]:
    """Metric -> its reference points from a manifest's `references` block, each {name, value, ci,
    source} with a finite value, sorted by value; malformed entries are dropped (a hand-edited
    manifest never breaks a report), a model without the block gives {}."""
    block = (manifest or {}).get("references")
    metrics = block.get("metrics") if isinstance(block, dict) else None
    if not isinstance(metrics, dict):
        return {}
    found = {}
    for name, points in metrics.items():
        kept = [p for p in points if isinstance(p, dict) and isinstance(p.get("name"), str)
                and finite_number(p.get("value")) is not None] if isinstance(points, list) else []
        if kept:
            found[name] = sorted(kept, key=lambda p: p["value"])
    return found


def scale_points(value: float | None, points: list[dict], digits: int = 2) -> list[tuple[str, str, bool]]:
    """(name, value text, is this run) for every reference point and this run's value, by value;
    [] when there are no reference points (a value alone is no scale)."""
    if not points:
        return []
    shown = [(p["name"], float(p["value"]), False) for p in points]
    if value is not None:
        shown.append(("this run", float(value), True))
    shown.sort(key=lambda item: (item[1], not item[2]))
    return [(name, f"{v:.{digits}f}", mine) for name, v, mine in shown]


def scale_line(value: float | None, points: list[dict], digits: int = 2, separator: str = " · ") -> str:
    """`canned bot 0.13 · curt bot 0.18 · this run 0.31 · human supporters 0.34`; "" without points."""
    if not points:
        return ""
    return separator.join(f"{name} {text}" for name, text, _ in scale_points(value, points, digits))


def verdict_line(gates: list[dict]) -> str:
    """`PASS: 2 of 2 gates passed` / `FAIL: 1 of 2 gates failed`; "" without gates."""
    if not gates:
        return ""
    failed = sum(not g["passed"] for g in gates)
    if failed:
        return f"FAIL: {failed} of {len(gates)} {_gates(len(gates))} failed"
    return f"PASS: {len(gates)} of {len(gates)} {_gates(len(gates))} passed"


def _gates(n: int) -> str:
    return "gate" if n == 1 else "gates"


def wrapped_items(items: list[str], width: int, indent: str = "  ", separator: str = " · ") -> list[str]:
    """Items joined by `separator` in lines of at most `width` columns, never splitting an item (a
    reference point's name from its value)."""
    lines, line = [], ""
    for item in items:
        joined = f"{line}{separator}{item}" if line else indent + item
        if line and len(joined) + len(separator.rstrip()) > width:
            lines.append(line + separator.rstrip())
            joined = indent + item
        line = joined
    return lines + ([line] if line else [])


def headline_metrics(corpus: dict[str, dict]) -> list[str]:
    return [name for name in ordered_metrics(list(corpus), {}) if is_headline(name)]


def headline_text(summary: dict, directions: dict[str, str], width: int = 80) -> list[str]:
    """The plain lines a terminal shows before the table: the verdict, then per headline metric its
    mean and CI and, on the next lines, its place among the reference points."""
    lines = [verdict] if (verdict := verdict_line(summary.get("gates", []))) else []
    references = summary.get("references", {})
    for name in headline_metrics(summary["corpus"]):
        entry = summary["corpus"][name]
        ci = f" [{entry['ci_low']:.3f}, {entry['ci_high']:.3f}]" if "ci_low" in entry else ""
        if ci and (confidence := summary.get("bootstrap", {}).get("confidence")):
            ci += f" ({confidence:.0%} CI)"
        better = {HIGHER: ", higher is better", LOWER: ", lower is better"}.get(directions.get(name), "")
        lines.append(f"{name} {entry['mean']:.3f}{ci}{better}")
        points = scale_points(entry["mean"], references.get(name, []))
        lines += wrapped_items([f"{n} {v}" for n, v, _ in points], width)
    return lines
