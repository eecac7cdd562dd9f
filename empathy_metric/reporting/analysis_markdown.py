"""`analyze -o FILE.md`: the result of `analyze` as Markdown (every table with its CIs)."""
from __future__ import annotations

from .analysis_tables import agreement_table, intent_table, matching_line, title


def _table(headers: list[str], rows: list[list[str]]) -> list[str]:
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    return lines + ["| " + " | ".join(cell.replace("|", "\\|") for cell in row) + " |" for row in rows]


def analysis_markdown(result: dict) -> str:
    signature = result["signature"]
    boot = result["bootstrap"]
    lines = ["# empathy-score analyze", "",
             f"Model `{signature.get('model')}`, inputs {', '.join(f'`{i}`' for i in result['inputs'])}, "
             f"{result['counts']['dialogues_scored']} dialogues scored."]
    if boot.get("n_resamples"):
        lines.append(f"CIs: {boot['confidence']:.0%}, percentile bootstrap over dialogues, "
                     f"{boot['n_resamples']} resamples, seed {boot['seed']}.")
    if result["warnings"]:
        lines += ["", "**Warnings**", ""] + [f"- {w}" for w in result["warnings"]]
    for analysis in result["analyses"]:
        lines += ["", f"## {title(analysis)}", "", matching_line(analysis) + "."]
        if "agreement" not in analysis:
            continue
        lines += ["", "Agreement of each metric with the rating (ROC-AUC: the rating made binary at "
                      f"{analysis['high']:g}).", ""] + _table(*agreement_table(analysis, compact=False))
        lines += ["", "Mean rating with and without each expressed intent (Table 2 of Xu & Jiang): "
                      "difference = with - without; Mann-Whitney U test, Holm-corrected over the intents.",
                  ""] + _table(*intent_table(analysis, compact=False))
    return "\n".join(lines) + "\n"
