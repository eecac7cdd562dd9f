"""The table of finetune.py's rows: per mechanism and arm, the CV mean over the folds run of macro-F1
and weak F1 (calibrated; uncalibrated in brackets), and each ordinal arm's macro-F1 minus the softmax
arm's with a 95% bootstrap CI resampling seeker posts (fold and post are the unit; the arms are paired).

    PYTHONPATH=$PWD python research/emh_ordinal/summarise.py /work/runs/emh_ordinal.json
"""
from __future__ import annotations

import json
import sys
from collections import defaultdict

import numpy as np
from sklearn.metrics import f1_score

RESAMPLES = 1000


def macro_f1(gold, pred) -> float:
    return float(f1_score(gold, pred, labels=[0, 1, 2], average="macro", zero_division=0))


def paired_delta(pairs: list[tuple[list[dict], list[dict]]], rng) -> tuple[float, float, float]:
    """Macro-F1 of the other arm minus the base arm, averaged over folds and over the mechanisms in
    `pairs` ((base rows, other rows) per mechanism, one row per fold); the CI resamples each fold's
    seeker posts, the same draw for every mechanism (they label the same posts)."""
    rows_of = []                              # per mechanism and fold: seeker post -> its rows
    for base, _ in pairs:
        rows_of.append([])
        for b in base:
            where = {}
            for i, g in enumerate(b["groups"]):
                where.setdefault(g, []).append(i)
            rows_of[-1].append(where)

    def delta(draw):
        found = []
        for (base, other), wheres in zip(pairs, rows_of):
            for b, o, where, posts in zip(base, other, wheres, draw):
                rows = np.array([i for g in posts for i in where.get(g, [])], dtype=int)
                gold = np.array(b["gold"])[rows]
                found.append(macro_f1(gold, np.array(o["pred"])[rows]) - macro_f1(gold, np.array(b["pred"])[rows]))
        return float(np.mean(found))
    folds = [list(dict.fromkeys(g for base, _ in pairs for g in base[f]["groups"])) for f in range(len(pairs[0][0]))]
    draws = [delta([rng.choice(posts, len(posts)) for posts in folds]) for _ in range(RESAMPLES)]
    return delta(folds), *np.percentile(draws, [2.5, 97.5])


def main(path: str) -> None:
    rows = json.loads(open(path).read())
    by = defaultdict(list)
    for r in rows:
        by[(r["task"], r["arm"])].append(r)
    rng = np.random.default_rng(0)
    print("| mechanism | arm | folds | macro-F1 (uncal.) | weak F1 (uncal.) | weak predicted / gold | "
          "macro-F1 minus softmax [95% CI] |")
    print("|---|---|---:|---:|---:|---:|---|")
    for (task, arm), runs in sorted(by.items()):
        runs.sort(key=lambda r: r["fold"])
        cal = {k: np.mean([r["calibrated"][k] for r in runs]) * 100 for k in ("macro_f1", "weak_f1")}
        unc = {k: np.mean([r["uncalibrated"][k] for r in runs]) * 100 for k in ("macro_f1", "weak_f1")}
        weak = f"{sum(r['calibrated']['weak_predicted'] for r in runs)} / {sum(r['calibrated']['weak_gold'] for r in runs)}"
        base = sorted(by.get((task, "softmax"), []), key=lambda r: r["fold"])
        shown = ""
        if arm != "softmax" and [r["fold"] for r in base] == [r["fold"] for r in runs]:
            d, low, high = paired_delta([(base, runs)], rng)
            shown = f"{d * 100:+.1f} [{low * 100:+.1f}, {high * 100:+.1f}]"
        print(f"| {task.removeprefix('emh_')} | {arm} | {','.join(str(r['fold']) for r in runs)} | "
              f"{cal['macro_f1']:.1f} ({unc['macro_f1']:.1f}) | {cal['weak_f1']:.1f} ({unc['weak_f1']:.1f}) | "
              f"{weak} | {shown} |")
    for arm in sorted({a for _, a in by} - {"softmax"}):
        tasks = sorted({t for t, a in by if a == arm and (t, "softmax") in by})
        pairs = [(sorted(by[(t, "softmax")], key=lambda r: r["fold"]), sorted(by[(t, arm)], key=lambda r: r["fold"]))
                 for t in tasks]
        if pairs and all([r["fold"] for r in b] == [r["fold"] for r in o] for b, o in pairs):
            d, low, high = paired_delta(pairs, rng)
            print(f"| EMH mean of {len(tasks)} | {arm} minus softmax | | | | | {d * 100:+.1f} [{low * 100:+.1f}, {high * 100:+.1f}] |")


if __name__ == "__main__":
    main(sys.argv[1])
