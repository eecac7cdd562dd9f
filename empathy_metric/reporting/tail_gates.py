"""Tail gates: `--max-share 'METRIC<VALUE=SHARE'` fails when more than SHARE of the dialogues have
METRIC under VALUE (`>`: over VALUE, for lower-is-better metrics).

A corpus mean can hold while a tenth of the conversations collapse; the share of dialogues in the
bad tail catches that. The share is the mean over dialogues of a per-dialogue 0/1, so it gets its CI
exactly as every corpus mean does (statistics.mean_intervals: scipy's bootstrap over dialogues), and
its gate is an ordinary "over SHARE" gate judged on that CI's upper bound (`--gate-on mean`: the
share itself). Pure: rows in, estimates out.
"""
from __future__ import annotations

import re

from ..errors import UsageError
from .gating import NUMBER, Estimate, Gate, GatePlan, estimates_from_table
from .statistics import BootstrapSettings, mean_intervals

TAIL = re.compile(r"^\s*(?P<metric>[^<>=\s]+)\s*(?P<op>[<>])\s*(?P<value>[^=]+?)\s*=\s*(?P<share>.+?)\s*$")


def _number(text: str, what: str, option: str) -> float:
    if not NUMBER.fullmatch(text.strip()):      # the thresholds' strict grammar: `0_5` is no 5 here either
        raise UsageError(f"{option}: {what} '{text}' is not a number (write a decimal such as 0.5)")
    value = float(text)
    if value != value or value in (float("inf"), float("-inf")):
        raise UsageError(f"{option}: {what} must be a finite number")
    return value


def tail_gate(text: str) -> Gate:
    """`METRIC<VALUE=SHARE` (or `>`) -> an "over SHARE" gate on the share of dialogues in the tail."""
    match = TAIL.match(text)
    if not match:
        raise UsageError(f"--max-share {text}: expected METRIC<VALUE=SHARE (or METRIC>VALUE=SHARE), e.g. "
                         "--max-share 'perceived.empathy<0.2=0.1'")
    option = f"--max-share {text}"
    value = _number(match["value"], "the value", option)
    share = _number(match["share"], "the share", option)
    if not 0 <= share <= 1:
        raise UsageError(f"{option}: the share must be between 0 and 1")
    metric, op = match["metric"], match["op"]
    return Gate(metric, "over", share, f"--max-share {metric}{op}{value:g}={share:g}", tail=(op, value))


def tail_gates(max_share: tuple[str, ...]) -> list[Gate]:
    return [tail_gate(text) for text in max_share]


def tail_estimates(rows, gates, bootstrap: BootstrapSettings | None) -> dict[str, Estimate]:
    """The share of `rows` (summary.DialogueRow) in each tail gate's tail, with its bootstrap CI."""
    import numpy as np
    tails = [g for g in gates if g.tail]
    if not tails or not rows:
        return {}
    ordered = sorted(rows, key=lambda r: r.dialogue_id)      # the CI must not depend on input order
    columns = []
    for gate in tails:
        values = np.array([r.metrics[gate.metric] for r in ordered], dtype=np.float64)
        op, bound = gate.tail
        columns.append(values < bound if op == "<" else values > bound)
    indicators = np.column_stack(columns).astype(np.float64)
    intervals = mean_intervals(indicators, bootstrap) if bootstrap else None
    n_turns = int(sum(r.n_turns for r in ordered))
    return {gate.key: Estimate(mean=float(indicators[:, k].mean()),
                               ci_low=float(intervals.low[k]) if intervals else None,
                               ci_high=float(intervals.high[k]) if intervals else None,
                               n_dialogues=len(ordered), n_turns=n_turns)
            for k, gate in enumerate(tails)}


def gate_estimates(corpus: dict[str, dict], rows, plan: GatePlan | None,
                   bootstrap: BootstrapSettings | None) -> dict[str, Estimate]:
    """What a run's gates judge: the corpus table's means, and the shares of the tail gates."""
    estimates = estimates_from_table(corpus)
    if plan is not None:
        estimates.update(tail_estimates(rows, plan.gates, bootstrap))
    return estimates
