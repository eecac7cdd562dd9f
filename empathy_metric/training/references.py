"""Reference points a bundle ships in its manifest (`references`): what its headline metrics, the
perceived dimensions, score on named reference releases, so that a run's value can be read on a scale
("canned bot 0.15 · this run 0.31 · human supporters 0.34") instead of as a bare number.

Releases are ESConv valid.json answered by its real supporters and the same conversations answered by
worse bots, made exactly as the held-out perturbation suite and research/perceived/make_releases.py
make them (same kinds, same seeds, the "eval" canned lists). Each is scored as `score` scores a file:
the corpus mean over dialogues with the same bootstrap CI, so a user scoring make_releases.py's files
gets the recorded numbers. A dimension trained on a third-party rating scale also gets that scale's
anchor, measured from the raters themselves (SCALES).

Written by `empathy-score eval --data DIR --record-references`; rerun it when a bundle, a perceived
dimension or a release is added: every perceived dimension of the bundle and every entry of RELEASES
is measured.
"""
from __future__ import annotations

import random
from pathlib import Path
from typing import Callable

import numpy as np

from ..io.readers import ReaderOptions, read_dialogues
from ..reporting.statistics import BootstrapSettings, mean_intervals
from ..reporting.summary import DialogueRow, corpus_table
from .data import AGENT_ROLES
from .perturbation_suite import perturbed
from .wassa import EMPATHY_SCALE, read_wassa

ESCONV_VALID = "esconv/valid.json"
# Reference release -> (perturbation kind of training/perturbation_suite.py, what it is). Order: the
# scale's usual order, worst first. A new bot is one more line here (and its kind there).
RELEASES = {
    "canned bot": ("canned", "every supporter reply replaced by a stock phrase ('Okay.', 'Got it.', ...)"),
    "curt bot": ("curt", "every supporter reply cut to its first 3 words"),
    "off-topic bot": ("off_topic", "every supporter reply swapped with one from another conversation"),
    "generic-questions bot": ("generic_questions", "every supporter reply replaced by a stock question "
                                                   "('How do you feel about that?', ...)"),
    "generic-sympathy bot": ("generic_sympathy", "every supporter reply replaced by a stock sympathy line "
                                                 "('That sounds incredibly hard.', ...)"),
    "repetitive bot": ("repetitive", "every supporter reply after the first replaced by one of the "
                                     "dialogue's own earlier replies"),
    "human supporters": ("no_op", "the real supporters' replies"),
}


def wassa_raters(data_dir: Path, bootstrap: BootstrapSettings) -> dict:
    """WASSA 2023 dev: the third-party raters' mean empathy rating / 5 (the scale perceived.empathy
    is trained on), a mean over conversations with its bootstrap CI."""
    means = np.array([[np.mean(ratings) / EMPATHY_SCALE]
                      for _, ratings in read_wassa(data_dir / "wassa23", "dev")])
    intervals = mean_intervals(means, bootstrap)
    return {"name": "WASSA raters", "value": float(intervals.mean[0]),
            "ci": [float(intervals.low[0]), float(intervals.high[0])],
            "source": f"WASSA 2023 dev, {len(means)} conversations: the third-party raters' mean "
                      f"empathy rating (0-5) / 5, i.e. a rating of {intervals.mean[0] * EMPATHY_SCALE:.2f}",
            "kind": "rating_scale"}


# Perceived dimension -> what its score means on the human rating scale it was trained on.
SCALES: dict[str, tuple[str, Callable[[Path, BootstrapSettings], dict]]] = {
    "empathy": ("the expected third-party perceived-empathy rating (WASSA 2023, 0-5) / 5: 0.2 = a rating "
                "of 1, 0.6 = 3, 1.0 = 5", wassa_raters),
}


def esconv_releases(valid_json: Path) -> dict[str, list]:
    """Release name -> its dialogues, as make_releases.py writes them (ids esconv-valid-N, seeds 0:kind)."""
    dialogues = list(read_dialogues(str(valid_json), ReaderOptions(format="esconv", agent_roles=AGENT_ROLES)))
    for number, dialogue in enumerate(dialogues, start=1):
        dialogue.dialogue_id = f"esconv-valid-{number}"
    pool = [(d.dialogue_id, t.text) for d in dialogues for t in d.turns
            if t.role.lower() in AGENT_ROLES and t.text.strip()]
    releases = {}
    for name, (kind, _) in RELEASES.items():
        rng = random.Random(f"0:{kind}")        # one stream per release, drawn in dialogue order
        releases[name] = [perturbed(d, kind, AGENT_ROLES, pool, rng) for d in dialogues]
    return releases


def measure_references(scorer, data_dir: str | Path, bootstrap: BootstrapSettings, log=print) -> dict:
    """The manifest's `references` block: per perceived metric of `scorer`'s bundle, a list of
    {name, value, ci, source, kind} sorted by value, and the rating scale it is read on where known."""
    data = Path(data_dir)
    dims = scorer.perceived
    metrics: dict[str, list] = {f"perceived.{dim}": [] for dim in dims}
    for name, dialogues in esconv_releases(data / ESCONV_VALID).items():
        result = scorer.score(dialogues)
        rows = [DialogueRow(d.dialogue_id, d.n_turns, d.metrics) for d in result.dialogues]
        table = corpus_table(rows, bootstrap)
        kind, what = RELEASES[name]
        for dim in dims:
            entry = table[f"perceived.{dim}"]
            metrics[f"perceived.{dim}"].append({
                "name": name, "value": entry["mean"], "ci": [entry["ci_low"], entry["ci_high"]],
                "source": f"ESConv valid.json, {len(rows)} dialogues: {what}", "kind": "release"})
        log(f"references: {name}: " + ", ".join(f"{d} {table[f'perceived.{d}']['mean']:.3f}" for d in dims))
    scales = {}
    for dim in dims:
        if dim in SCALES:
            meaning, measure = SCALES[dim]
            scales[f"perceived.{dim}"] = meaning
            metrics[f"perceived.{dim}"].append(measure(data, bootstrap))
    for points in metrics.values():
        points.sort(key=lambda p: p["value"])
    return {"statistic": "corpus mean over dialogues with its bootstrap CI, as `score` reports it",
            "bootstrap": bootstrap.to_dict(), "scales": scales, "metrics": metrics}
