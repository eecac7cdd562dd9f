"""The per-metric validity a bundle ships in its manifest (`validity`), made from an `eval` report:
for each metric a gate can read, its dialogue-level agreement with human judgements on held-out data,
with a CI, the corpus bias where a true corpus value exists, n and the data it was measured on.
`empathy-score metrics` shows it and gates on a metric below the floor carry a warning
(reporting/metric_catalog.py)."""
from __future__ import annotations

import math

from ..reporting.metric_catalog import VALIDITY_FLOOR

RATE_DATA = {"esconv_valid": "ESConv valid.json: gold strategies of the supporter turns, per dialogue",
             "emh_test": "EMH/EPITOME held-out 15%: gold levels, per seeker post"}
# Which held-out judgement each perceived dimension is validated on (the notion it claims to measure).
PERCEIVED_DATA = {
    "empathy": ("wassa_dev_dialogues", "WASSA 2023 dev conversations: mean third-party perceived-empathy "
                                       "rating per conversation"),
    "helpfulness": ("esconv_feedback_dialogues", "ESConv valid.json: mean of the seeker's per-turn "
                                                 "helpfulness ratings per dialogue"),
    # the seeker's own ratings are the first-party signal closest to "the agent understood my problem"
    "understanding": ("esconv_feedback_dialogues", "ESConv valid.json: mean of the seeker's per-turn "
                                                   "helpfulness ratings per dialogue"),
}
DEFAULT_PERCEIVED = PERCEIVED_DATA["helpfulness"]


def validity_block(report: dict, command: str) -> dict:
    metrics = {}
    for test, data in RATE_DATA.items():
        for name, r in report.get(test, {}).get("rates", {}).items():
            metrics[name] = {"dialogue_r": r["dialogue_r"], "dialogue_r_ci": r["dialogue_r_ci"],
                             "corpus_bias": r["bias"], "corpus_bias_ci": r["bias_ci"],
                             "n_dialogues": r["n_dialogues"], "data": data}
    perceived = report.get("perceived_validity", {})
    for dim in perceived.get("dimensions", []):
        section, data = PERCEIVED_DATA.get(dim, DEFAULT_PERCEIVED)
        r = perceived[section][dim]
        metrics[f"perceived.{dim}"] = {"dialogue_r": r["raw"], "dialogue_r_ci": list(r["raw_ci"]),
                                       "length_partialled_r": r["length_partialled"],
                                       "length_partialled_r_ci": list(r["length_partialled_ci"]),
                                       "n_dialogues": r["n_dialogues"], "data": data}
    return {"floor": VALIDITY_FLOOR, "statistic": "Pearson r of per-dialogue values with human judgements",
            "measured_with": command, "metrics": finite_or_null(metrics)}


def finite_or_null(value):
    """The manifest is strict JSON: a statistic that could not be computed (NaN) is written as null."""
    if isinstance(value, dict):
        return {k: finite_or_null(v) for k, v in value.items()}
    if isinstance(value, list):
        return [finite_or_null(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value
