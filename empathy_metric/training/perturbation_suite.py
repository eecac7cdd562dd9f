"""The held-out perturbation suite: every agent reply of a set of conversations is made worse in one
way (a release that regressed) or padded with an irrelevant sentence, the conversations are scored
again, and the change of each dialogue's mean perceived score is reported with a bootstrap CI over
dialogues. A metric fit to gate releases moves down for off-topic, canned and curt replies, stays
put for a no-op, and barely moves for padding. The generic releases answer every message with a
stock line that never engages with the person's situation: sympathy lines (`generic_sympathy`) or
questions any conversation could get (`generic_questions`), the failure of support bots that a
metric of one turn's sympathy rewards (issue 37). The repetitive release answers each message after
the first with one of its own earlier replies (a bot stuck in a loop: each line real and specific once).

Canned replies, filler sentences and generic lines come from the "eval" lists of perturbations.py,
which training never sees.
"""
from __future__ import annotations

import random
from dataclasses import replace

import numpy as np

from ..dialogue import Dialogue
from ..pipeline.windows import WindowSettings, dialogue_windows
from ..reporting.statistics import BootstrapSettings, mean_intervals
from .perturbations import GENERIC_SETS, canned, generic, off_topic, padded

KINDS = ("no_op", "off_topic", "canned", "curt", "padded", *GENERIC_SETS, "repetitive")
CURT_MAX_WORDS = 3       # a curt release keeps at most this many words of each reply


def perturbed(dialogue: Dialogue, kind: str, agent_roles: frozenset[str], pool: list[tuple[str, str]],
              rng: random.Random) -> Dialogue:
    """The dialogue with each agent turn's text replaced as `kind` says (context turns unchanged)."""
    def text_of(text: str) -> str:
        if kind == "no_op":
            return text
        if kind == "off_topic":
            return off_topic(pool, dialogue.dialogue_id, rng)
        if kind == "canned":
            return canned(rng, "eval")
        if kind == "curt":
            return " ".join(text.split()[:CURT_MAX_WORDS])
        if kind == "padded":
            return padded(text, rng, "eval")
        if kind in GENERIC_SETS:
            return generic(rng, kind, "eval")
        raise ValueError(f"unknown perturbation {kind!r}")
    if kind == "repetitive":
        return replace(dialogue, turns=_looped(dialogue.turns, agent_roles, rng))
    turns = [replace(t, text=text_of(t.text)) if t.role.lower() in agent_roles else t for t in dialogue.turns]
    return replace(dialogue, turns=turns)


def _looped(turns: list, agent_roles: frozenset[str], rng: random.Random) -> list:
    """Each agent turn after the first replaced by one of the dialogue's earlier agent replies."""
    earlier: list[str] = []
    looped = []
    for turn in turns:
        if turn.role.lower() in agent_roles:
            looped.append(replace(turn, text=rng.choice(earlier)) if earlier else turn)
            earlier.append(turn.text)
        else:
            looped.append(turn)
    return looped


def dialogue_means(predict, dialogues: list[Dialogue], settings: WindowSettings,
                   agent_roles: frozenset[str]) -> np.ndarray:
    """[dialogues, perceived dims]: each dialogue's mean perceived score (`predict(windows)` -> scores)."""
    per_dialogue = [dialogue_windows(d, settings, agent_roles) for d in dialogues]
    scores = predict([w for ws in per_dialogue for w in ws])
    means, start = [], 0
    for windows in per_dialogue:
        means.append(scores[start:start + len(windows)].mean(axis=0))
        start += len(windows)
    return np.array(means)


def run_suite(predict, dialogues: list[Dialogue], settings: WindowSettings, agent_roles: frozenset[str],
              dims: list[str], bootstrap: BootstrapSettings, seed: int = 0) -> dict:
    """{kind: {dim: {mean_change, ci, change_in_sd, ci_in_sd}}} for every perturbation (in SD: divided by
    the between-dialogue SD of the unperturbed dialogue means)."""
    dialogues = [d for d in dialogues if dialogue_windows(d, settings, agent_roles)]
    pool = [(d.dialogue_id, t.text) for d in dialogues for t in d.turns
            if t.role.lower() in agent_roles and t.text.strip()]
    base = dialogue_means(predict, dialogues, settings, agent_roles)
    spread = base.std(axis=0, ddof=1)
    report = {"n_dialogues": len(dialogues), "base_mean": dict(zip(dims, base.mean(axis=0).tolist())),
              "between_dialogue_sd": dict(zip(dims, spread.tolist())), "changes": {}}
    for kind in KINDS:
        rng = random.Random(f"{seed}:{kind}")
        changed = dialogue_means(predict, [perturbed(d, kind, agent_roles, pool, rng) for d in dialogues],
                                 settings, agent_roles)
        intervals = mean_intervals(changed - base, bootstrap)
        report["changes"][kind] = {
            dim: {"mean_change": float(intervals.mean[k]), "ci": [float(intervals.low[k]), float(intervals.high[k])],
                  "change_in_sd": float(intervals.mean[k] / spread[k]) if spread[k] > 0 else float("nan"),
                  "ci_in_sd": [float(intervals.low[k] / spread[k]), float(intervals.high[k] / spread[k])]
                  if spread[k] > 0 else [float("nan")] * 2}
            for k, dim in enumerate(dims)}
    return report
