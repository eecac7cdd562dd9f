"""Release gates: pure functions from estimates (mean + CI + n) to verdicts. No I/O, no exits.

A gate keeps a metric on one side of a threshold:
- `--fail-under M=V` (side "under"): fails when the judged value < V; judged on the CI's lower bound
  by default (`--gate-on ci`), so a gate passes only when the data show the metric is above V;
- `--fail-over M=V` (side "over"): fails when the judged value > V, judged on the CI's upper bound;
- `--max-drop M=D` (compare): a drop of the delta candidate - baseline beyond D, in the metric's bad
  direction: an "under -D" gate on the delta for higher-is-better metrics, "over +D" for lower;
- `--max-share 'M<V=S'` (tail_gates.py): an "over S" gate on the share of dialogues whose M is under V
  (`>`: over V), an estimate like any other (the mean of a per-dialogue 0/1, CI over dialogues).
The CLI prints `GateResult.line()` for every gate and exits from `GateEvaluation.passed`: both come
from the same object.
"""
from __future__ import annotations

import difflib
import math
import re
from dataclasses import dataclass, replace

from ..errors import UsageError
from .metric_catalog import HIGHER, LOWER, PERCEIVED_MEANINGS

GATE_ON = ("ci", "mean")
# A threshold as people write decimals: no '_' separators, hex, inf or nan, which float() would take
# (`0_5` is 5 to float(), so a typo would become a gate that always passes).
NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")


@dataclass(frozen=True)
class Estimate:
    """What a gate looks at: a corpus mean (or a mean delta) with its CI and the data behind it."""
    mean: float
    ci_low: float | None
    ci_high: float | None
    n_dialogues: int
    n_turns: int | None = None


@dataclass(frozen=True)
class Gate:
    metric: str
    side: str            # "under": must not fall under threshold; "over": must not rise over it
    threshold: float
    option: str          # the option as the user wrote it, for messages
    tail: tuple[str, float] | None = None   # tail gates: (op, value); judged on the share of dialogues

    @property
    def bound(self) -> str:
        return "ci_low" if self.side == "under" else "ci_high"

    @property
    def key(self) -> str:
        """The estimate it judges: the metric, or for a tail gate the share `share(M<V)`."""
        return f"share({self.metric}{self.tail[0]}{self.tail[1]:g})" if self.tail else self.metric


def parse_assignment(text: str, option: str) -> tuple[str, float]:
    """`METRIC=VALUE` -> (metric, value); the metric name may itself contain no '='."""
    name, sep, value = text.rpartition("=")
    name = name.strip()
    if not sep or not name:
        raise UsageError(f"{option} {text}: expected METRIC=VALUE, e.g. {option} perceived.empathy=0.6")
    if not NUMBER.fullmatch(value.strip()):
        raise UsageError(f"{option} {text}: '{value}' is not a number (write a decimal such as 0.5)")
    number = float(value)
    if not math.isfinite(number):
        raise UsageError(f"{option} {text}: the value must be a finite number")
    return name, number


def threshold_gates(fail_under: tuple[str, ...], fail_over: tuple[str, ...]) -> list[Gate]:
    gates = []
    for text in fail_under:
        name, value = parse_assignment(text, "--fail-under")
        gates.append(Gate(name, "under", value, f"--fail-under {name}={value:g}"))
    for text in fail_over:
        name, value = parse_assignment(text, "--fail-over")
        gates.append(Gate(name, "over", value, f"--fail-over {name}={value:g}"))
    return gates


def drop_gates(max_drop: tuple[str, ...], directions: dict[str, str],
               ranges: dict[str, tuple[float, float]] | None = None) -> list[Gate]:
    """`--max-drop M=D` gates on the delta (candidate - baseline), respecting M's direction. With
    `ranges` (metric_catalog.ranges), a drop larger than M can ever move is refused: it could never fail."""
    gates = []
    for text in max_drop:
        name, value = parse_assignment(text, "--max-drop")
        check_metric_names([name], directions, "--max-drop")
        if value < 0:
            raise UsageError(f"--max-drop {text}: the allowed drop must be >= 0")
        low, high = (ranges or {}).get(name, (-math.inf, math.inf))
        if value > high - low:
            raise UsageError(f"--max-drop {text}: {name} takes values in {low:g}..{high:g}, so a drop of "
                             f"{value:g} could never happen and the gate could never fail")
        option = f"--max-drop {name}={value:g}"
        if directions[name] == HIGHER:
            gates.append(Gate(name, "under", -value, option))
        elif directions[name] == LOWER:
            gates.append(Gate(name, "over", value, option))
        else:
            raise UsageError(f"{option}: '{name}' is descriptive (no better direction), so it has no "
                             "drop; gate it with --fail-under/--fail-over on `empathy-score score`")
    return gates


def check_metric_names(names, known, option: str = "gate") -> None:
    """An unknown metric is a usage error that suggests the closest known names."""
    for name in names:
        if name in known:
            continue
        dim = name.removeprefix("perceived.")
        if name.startswith("perceived.") and dim in PERCEIVED_MEANINGS:
            raise UsageError(f"{option}: this model has no '{name}' (not every model scores every perceived "
                             "dimension: the default model has perceived.understanding and perceived.relevance, "
                             "-m fast does not); "
                             "`empathy-score metrics -m MODEL` lists a model's metrics")
        close = difflib.get_close_matches(name, list(known), n=5, cutoff=0.5)
        hint = ("did you mean: " + ", ".join(close) if close
                else "known metrics: " + ", ".join(list(known)[:8]) + (", ..." if len(known) > 8 else ""))
        raise UsageError(f"{option}: unknown metric '{name}'; {hint} "
                         "(`empathy-score metrics` lists every name)")


def _fmt(value: float, other: float) -> str:
    """4 decimals, or as many as it takes to show why two numbers compare as they do."""
    value, other = value + 0.0, other + 0.0          # -0.0 (a --max-drop of 0, negated) reads 0.0000
    for digits in (4, 6, 9):
        rounded_to_zero = value and not f"{value:.{digits}f}".lstrip("-").strip("0.")
        if f"{value:.{digits}f}" != f"{other:.{digits}f}" and not rounded_to_zero:
            return f"{value:.{digits}f}"
    return repr(value)


def _json_number(value: float | None) -> float | None:
    """None for NaN and infinities, which JSON cannot hold."""
    return value if value is not None and math.isfinite(value) else None


@dataclass(frozen=True)
class GateResult:
    gate: Gate
    passed: bool
    judged_on: str                 # ci_low | ci_high | mean
    judged_value: float | None
    estimate: Estimate | None
    reason: str                    # why it passed or failed, in words
    subject: str = ""              # "delta " for compare
    warning: str | None = None     # why the verdict may be noise: the metric's validity (metric_catalog)

    def line(self) -> str:
        verdict = "PASS" if self.passed else "FAIL"
        text = f"{verdict} {self.gate.key} {self.reason} [{self.gate.option}]"
        return text + (f" (warning: {self.warning})" if self.warning else "")

    def to_dict(self) -> dict:
        e = self.estimate
        return {"metric": self.gate.key, "option": self.gate.option, "side": self.gate.side,
                "threshold": self.gate.threshold, "passed": self.passed, "judged_on": self.judged_on,
                "judged_value": self.judged_value, "mean": _json_number(e.mean if e else None),
                "ci_low": _json_number(e.ci_low if e else None), "ci_high": _json_number(e.ci_high if e else None),
                "n_dialogues": e.n_dialogues if e else 0, "reason": self.reason,
                "validity_warning": self.warning, "verdict": self.line(),
                **({"tail": {"metric": self.gate.metric, "op": self.gate.tail[0], "value": self.gate.tail[1]}}
                   if self.gate.tail else {})}


@dataclass
class GateEvaluation:
    results: list[GateResult]
    gate_on: str
    min_dialogues: int

    @property
    def passed(self) -> bool:
        return all(r.passed for r in self.results)

    def to_list(self) -> list[dict]:
        return [r.to_dict() for r in self.results]


@dataclass(frozen=True)
class GatePlan:
    gates: tuple[Gate, ...]
    gate_on: str = "ci"
    min_dialogues: int = 1
    subject: str = ""              # "delta " when the estimates are deltas (compare)
    unit: str = "dialogues"        # "paired dialogues" for compare
    # metric -> why a gate on it may be noise (weak or unmeasured validity); it never changes a verdict
    warnings: tuple[tuple[str, str], ...] = ()

    def evaluate(self, estimates: dict[str, Estimate]) -> GateEvaluation:
        warnings = dict(self.warnings)
        return GateEvaluation([replace(self._judge(g, estimates.get(g.key)), warning=warnings.get(g.metric))
                               for g in self.gates], self.gate_on, self.min_dialogues)

    def _judge(self, gate: Gate, estimate: Estimate | None) -> GateResult:
        judged_on = gate.bound if self.gate_on == "ci" else "mean"
        if estimate is None or estimate.n_dialogues == 0:
            return GateResult(gate, False, judged_on, None, estimate, f"no {self.unit} scored",
                              self.subject)
        n = estimate.n_dialogues
        mean_text = (f"(n={n} {self.unit})" if judged_on == "mean" else
                     f"(mean {self.subject}{_fmt(estimate.mean, gate.threshold)}, n={n} {self.unit})")
        if n < self.min_dialogues:
            return GateResult(gate, False, judged_on, None, estimate,
                              f"refused: {n} {self.unit} < --min-dialogues {self.min_dialogues} "
                              + mean_text, self.subject)
        if judged_on == "mean":
            value = estimate.mean
        else:
            value = estimate.ci_low if judged_on == "ci_low" else estimate.ci_high
            if value is None:
                return GateResult(gate, False, judged_on, None, estimate,
                                  "no confidence interval (bootstrap disabled) " + mean_text, self.subject)
            if n < 2:
                return GateResult(gate, False, judged_on, None, estimate,
                                  f"a confidence interval needs at least 2 {self.unit} " + mean_text,
                                  self.subject)
        if not (math.isfinite(value) and math.isfinite(estimate.mean)):
            # NaN compares false with everything: `nan < threshold` would pass the gate.
            return GateResult(gate, False, judged_on, None, estimate,
                              f"{self.subject}{judged_on}={value} is not a finite number {mean_text}",
                              self.subject)
        failed = value < gate.threshold if gate.side == "under" else value > gate.threshold
        sign = {("under", True): "<", ("under", False): ">=",
                ("over", True): ">", ("over", False): "<="}[(gate.side, failed)]
        text = (f"{self.subject}{judged_on}={_fmt(value, gate.threshold)} {sign} "
                f"{_fmt(gate.threshold, value)} {mean_text}")
        return GateResult(gate, not failed, judged_on, value, estimate, text, self.subject)


def plan_gates(gates: list[Gate], gate_on: str, min_dialogues: int, bootstrap, known_metrics,
               subject: str = "", unit: str = "dialogues",
               validity_warnings: dict[str, str] | None = None,
               ranges: dict[str, tuple[float, float]] | None = None) -> GatePlan | None:
    """The plan that judges `gates`, checked against the model's metric names and, with `ranges`
    (metric -> the values its corpus mean can take: metric_catalog.ranges), their thresholds; None
    when there are no gates. Judging on the CI needs a bootstrap (`bootstrap`:
    statistics.BootstrapSettings or None). `validity_warnings` (metric -> text) are attached to the
    verdicts of gates on those metrics."""
    if not gates:
        return None
    for gate in gates:
        check_metric_names([gate.metric], known_metrics, gate.option.split()[0])
        if gate.tail:
            continue                    # its threshold is a share, checked (0..1) when it was parsed
        low, high = (ranges or {}).get(gate.metric, (-math.inf, math.inf))
        if not low <= gate.threshold <= high:
            raise UsageError(f"{gate.option}: {gate.threshold:g} is outside the range of {gate.metric} "
                             f"({low:g}..{high:g}), so the gate could never fail or never pass")
    if gate_on == "ci" and bootstrap is None:
        raise UsageError("--gate-on ci needs confidence intervals: use --bootstrap N (N > 0) "
                         "or --gate-on mean")
    warnings = validity_warnings or {}
    warned = tuple((g.metric, warnings[g.metric]) for g in gates if g.metric in warnings)
    return GatePlan(tuple(gates), gate_on, min_dialogues, subject, unit, warned)


def estimates_from_table(table: dict[str, dict], mean_key: str = "mean") -> dict[str, Estimate]:
    """The summary's corpus table (or compare's metrics table) -> estimates for gating."""
    return {name: Estimate(mean=entry[mean_key], ci_low=entry.get("ci_low"),
                           ci_high=entry.get("ci_high"), n_dialogues=entry.get("n_dialogues", 0),
                           n_turns=entry.get("n_turns"))
            for name, entry in table.items()}
