"""README's "Which metrics can I gate on?" table, generated from the shipped model's manifest.

    python docs/validity_table.py            # print the table
    python docs/validity_table.py --write    # replace it in README.md (between the validity-table markers)

tests/test_docs_examples.py checks that README.md holds exactly what this prints, so the table and
`empathy-score metrics` (which reads the same manifest) never disagree.
"""
from __future__ import annotations

import sys
from pathlib import Path

from empathy_metric.bundle import load_bundle
from empathy_metric.reporting.metric_catalog import (HIGHER, LOWER, VALIDITY_FLOOR, catalog, detector_validation,
                                                     finite_number)

README = Path(__file__).resolve().parent.parent / "README.md"
BEGIN, END = "<!-- validity-table:begin (python docs/validity_table.py --write) -->", "<!-- validity-table:end -->"


def use_of(info, r: float | None, floor: float) -> str:
    direction, entry = info.direction, info.validity or {}
    if info.model_free:
        return "yes: computed from the text, no model"
    detected = detector_validation(entry)            # validated as a detector, not against ratings
    if detected and r is not None and r < floor:
        bots, contrast, auc = detected
        return f"against {bots} only: {contrast} ROC-AUC {auc:.2f} (warned: weak agreement with ratings)"
    if r is None:
        return "no: not measured (warned)"
    if r < floor:
        return "no: mostly noise per dialogue (warned)"
    return "yes" if direction in (HIGHER, LOWER) else "yes, with an explicit bound (no better side)"


def table(model: str | None = None) -> str:
    bundle = load_bundle(model, verify=False)
    validity = bundle.manifest.get("validity") or {}
    floor = validity.get("floor", VALIDITY_FLOOR)
    lines = [f"For `{bundle.name}` (manifest `validity`, floor r {floor}; measured with "
             f"`{validity.get('measured_with', '?')}`):", "",
             "| metric | better | dialogue-level r [95% CI] | measured against | gate on it? |",
             "|---|---|---|---|---|"]
    for info in catalog(bundle.tasks, bundle.perceived, validity):
        entry = info.validity or {}
        r = finite_number(entry.get("dialogue_r"))
        ci = entry.get("dialogue_r_ci") or [None, None]
        shown = "-" if r is None else (f"{r:.2f}" + (f" [{ci[0]:.2f}, {ci[1]:.2f}]" if None not in ci else ""))
        data = "its own text" if info.model_free else entry.get("data", "-")
        lines.append(f"| `{info.name}` | {info.direction} | {shown} | {data} | "
                     f"{use_of(info, r, floor)} |")
    return "\n".join(lines) + "\n"


def readme_table(text: str) -> str:
    """The table as README.md holds it (between the markers)."""
    start, end = text.index(BEGIN) + len(BEGIN) + 1, text.index(END)
    return text[start:end]


def main(argv: list[str]) -> None:
    generated = table()
    if "--write" in argv:
        text = README.read_text(encoding="utf-8")
        start, end = text.index(BEGIN) + len(BEGIN) + 1, text.index(END)
        README.write_text(text[:start] + generated + text[end:], encoding="utf-8")
    else:
        sys.stdout.write(generated)


if __name__ == "__main__":
    main(sys.argv[1:])
