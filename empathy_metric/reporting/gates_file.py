"""A gates file (TOML) that a repository keeps, and the gates suggested from a baseline run.

    min-dialogues = 97
    [fail-under]                      # score: --fail-under METRIC=VALUE
    "perceived.empathy" = 0.3212
    [fail-over]                       # score: --fail-over METRIC=VALUE
    "emh_explorations.rate.none" = 0.31
    [max-share]                       # score: --max-share 'METRIC<VALUE=SHARE'
    "perceived.empathy<0.2744" = 0.21
    [max-drop]                        # compare: --max-drop METRIC=DELTA
    "perceived.empathy" = 0.011

`score --gates FILE` judges fail-under, fail-over and max-share; `compare --gates FILE` judges
max-drop. The file's gates are added to those given as options; `min-dialogues` raises
`--min-dialogues`. Pure: the CLI reads the file, this module parses its text and writes new text.

The margin rule of `gates suggest` (tests/test_gates_suggest.py shows it on ESConv): a floor sits
one CI width below the baseline's CI lower bound (a ceiling one width above its upper bound), a
max-drop is one CI width, a tail's share one share-CI width above the baseline share's upper bound.
A release of the same size drawn like the baseline then fails a floor only when its mean is more than
~2.8 standard errors below the baseline's (one CI width = 3.92 se; both CIs move with the data).
"""
from __future__ import annotations

import math
import sys
from dataclasses import dataclass

from ..errors import UsageError
from .metric_catalog import DETECTOR_AUC_FLOOR, HIGHER, LOWER, detector_validation
from .statistics import BootstrapSettings, mean_intervals

if sys.version_info >= (3, 11):
    import tomllib
else:                                          # pragma: no cover - Python 3.10
    import tomli as tomllib

TABLES = ("fail-under", "fail-over", "max-share", "max-drop")
TAIL_QUANTILE = 0.10          # a tail gate's VALUE: the baseline's 10th percentile (90th: lower-is-better)
TAIL_PREFIX = "perceived."    # tails only on continuous per-dialogue scores (a rate's tail is mostly ties at 0)


@dataclass(frozen=True)
class GatesFile:
    """The file's gates as the options that say the same (so they are parsed and checked once)."""
    fail_under: tuple[str, ...] = ()
    fail_over: tuple[str, ...] = ()
    max_share: tuple[str, ...] = ()
    max_drop: tuple[str, ...] = ()
    min_dialogues: int = 1


def parse_gates(text: str, source: str) -> GatesFile:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise UsageError(f"--gates {source}: not valid TOML ({exc})") from None
    unknown = sorted(set(data) - set(TABLES) - {"min-dialogues"})
    if unknown:
        raise UsageError(f"--gates {source}: unknown key(s) {', '.join(unknown)} "
                         f"(known: min-dialogues, [{'], ['.join(TABLES)}])")
    found = {}
    for table in TABLES:
        entries = data.get(table, {})
        if not isinstance(entries, dict):
            raise UsageError(f"--gates {source}: [{table}] must be a table of \"METRIC\" = NUMBER")
        for key, value in entries.items():
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
                raise UsageError(f"--gates {source}: [{table}] \"{key}\" must be a finite number")
        found[table] = tuple(f"{key}={value!r}" for key, value in entries.items())
    minimum = data.get("min-dialogues", 1)
    if isinstance(minimum, bool) or not isinstance(minimum, int) or minimum < 1:
        raise UsageError(f"--gates {source}: min-dialogues must be an integer >= 1")
    return GatesFile(found["fail-under"], found["fail-over"], found["max-share"], found["max-drop"], minimum)


def _valid_enough(validity: dict, metric: str) -> bool:
    """Agrees with people (dialogue-level r at the floor or above), or is validated as a detector of a
    bad release (held-out ROC-AUC >= DETECTOR_AUC_FLOOR): without the latter a suggested file passes
    releases only such a metric sees (perceived.relevance and an off-topic bot)."""
    entry = validity.get("metrics", {}).get(metric)
    r = entry.get("dialogue_r") if isinstance(entry, dict) else None
    if isinstance(r, (int, float)) and r >= validity.get("floor", 0.4):
        return True
    detected = detector_validation(entry if isinstance(entry, dict) else None)
    return detected is not None and detected[2] >= DETECTOR_AUC_FLOOR


def suggest_gates(summary: dict, directions: dict[str, str], validity: dict) -> dict[str, dict[str, float]]:
    """Gates from a baseline run's summary (`score -o summary.json`): the tables of a gates file.
    Only metrics with a better direction whose measured validity (`validity`, the manifest's block)
    clears its floor or that are validated detectors of a bad release; a floor at or below 0 (a
    ceiling at or above 1 for a rate) says nothing and is left out."""
    import numpy as np
    corpus, rows = summary["corpus"], summary["dialogues"]
    boot = summary.get("bootstrap", {})
    if not boot.get("n_resamples"):
        raise UsageError("gates suggest needs a baseline with confidence intervals (scored with --bootstrap > 0)")
    settings = BootstrapSettings(boot["n_resamples"], boot["confidence"], boot["seed"], boot["method"])
    tables: dict[str, dict[str, float]] = {table: {} for table in TABLES}
    ordered = sorted(rows, key=lambda r: r["dialogue_id"])
    for metric, entry in corpus.items():
        direction = directions.get(metric)
        if direction not in (HIGHER, LOWER) or not _valid_enough(validity, metric):
            continue
        low, high = entry["ci_low"], entry["ci_high"]
        width = high - low
        if direction == HIGHER and low - width > 0:
            tables["fail-under"][metric] = round(low - width, 4)
        elif direction == LOWER and not (".rate." in metric and high + width >= 1):
            tables["fail-over"][metric] = round(high + width, 4)
        tables["max-drop"][metric] = round(width, 4)
        if metric.startswith(TAIL_PREFIX):
            values = np.array([r["metrics"][metric] for r in ordered], dtype=np.float64)
            quantile = TAIL_QUANTILE if direction == HIGHER else 1 - TAIL_QUANTILE
            value = round(float(np.quantile(values, quantile)), 4)
            tail = (values < value) if direction == HIGHER else (values > value)
            share = mean_intervals(tail[:, None].astype(np.float64), settings)
            bound = float(share.high[0]) + float(share.high[0] - share.low[0])
            if bound < 1:
                op = "<" if direction == HIGHER else ">"
                tables["max-share"][f"{metric}{op}{value:g}"] = round(bound, 4)
    return tables


def gates_toml(tables: dict[str, dict[str, float]], min_dialogues: int, header: list[str]) -> str:
    """A gates file's text: comment lines, min-dialogues, then one table per kind of gate."""
    lines = [f"# {line}" for line in header] + ["", f"min-dialogues = {min_dialogues}"]
    for table in TABLES:
        lines += ["", f"[{table}]"] + [f'"{key}" = {value!r}' for key, value in tables.get(table, {}).items()]
    return "\n".join(lines) + "\n"
