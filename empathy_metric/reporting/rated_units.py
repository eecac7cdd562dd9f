"""Human ratings matched to scored dialogues and turns: the units `analysis.analyze_rating` relates
to the metrics. Pure: no I/O.

- A dialogue-level rating (no turn index) rates its dialogue: the unit's metrics are the dialogue's.
- A turn-level rating on a scored (agent) turn rates that turn. On any other turn of the dialogue
  (e.g. the seeker's) it rates the agent turns since the previous turn that carries the same rating
  (ESConv's convention: every few turns the seeker rates the supporter's last replies). The unit's
  metrics are computed over those turns as a dialogue's are over all of its turns
  (aggregation.dialogue_metrics).
- Several values of one rating for the same unit (several raters) are averaged.
- A rating that matches nothing is counted by reason, never dropped silently: `no_scored_dialogue`
  (no scored dialogue has its id: unknown, or a dialogue without agent turns), `turn_out_of_range`
  (the dialogue has no such turn), `no_agent_turn` (no scored agent turn since the previous rated turn).
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

import numpy as np

from ..io.ratings import Rating
from ..pipeline.aggregation import dialogue_metrics, slug
from ..pipeline.decoding import UtteranceScore
from ..schemas import Task
from .analysis import RatedUnits

UNMATCHED_SHOWN = 5          # examples listed per reason; the count is always complete


@dataclass
class ScoredDialogue:
    """What the analysis keeps of one scored dialogue."""
    dialogue_id: str
    utterances: list[UtteranceScore]     # its scored agent turns, in order
    metrics: dict[str, float]            # its dialogue metrics
    words: dict[int, int]                # turn index -> words in that turn's text
    turns_read: int                      # turns in the input record: indices 0 .. turns_read - 1


@dataclass
class Matching:
    """How the values of one rating met the scored data."""
    ratings: int = 0
    matched: int = 0
    unmatched: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))  # reason -> sources

    def miss(self, reason: str, rating: Rating) -> None:
        where = f"{rating.source} (dialogue '{rating.dialogue_id}'"
        self.unmatched[reason].append(where + (f", turn {rating.turn_index})" if rating.turn_index is not None
                                               else ")"))

    def to_dict(self) -> dict:
        return {"ratings": self.ratings, "matched": self.matched,
                "unmatched": {reason: {"count": len(where), "first": where[:UNMATCHED_SHOWN]}
                              for reason, where in sorted(self.unmatched.items())}}

    def describe(self) -> str | None:
        if not self.unmatched:
            return None
        parts = [f"{len(where)} {reason.replace('_', ' ')} (e.g. {where[0]})"
                 for reason, where in sorted(self.unmatched.items())]
        return f"{sum(len(w) for w in self.unmatched.values())} of {self.ratings} ratings match no scored " \
               "turn or dialogue: " + "; ".join(parts)


def intents(tasks: list[Task]) -> list[tuple[str, Task, str]]:
    """(name, task, label) of every expressed intent: each label of each task."""
    return [(f"{task.name}.{slug(label)}", task, label) for task in tasks for label in task.labels]


def _groups(dialogue: ScoredDialogue, turn_values: dict[int, list[float]], ratings_at: dict[int, Rating],
            matching: Matching):
    """(agent turns rated, mean value) for each rated turn of one dialogue, in turn order."""
    by_index = {u.turn_index: u for u in dialogue.utterances}
    previous = -1
    for index in sorted(turn_values):
        values = turn_values[index]
        if index in by_index:
            group = [by_index[index]]
        elif index < dialogue.turns_read:
            group = [u for u in dialogue.utterances if previous < u.turn_index < index]
        else:
            group = []
        previous = index
        if not group:
            reason = "turn_out_of_range" if index >= dialogue.turns_read else "no_agent_turn"
            for _ in values:
                matching.miss(reason, ratings_at[index])
            continue
        matching.matched += len(values)
        yield group, float(np.mean(values))


def rated_units(ratings: list[Rating], scored: dict[str, ScoredDialogue], tasks: list[Task],
                perceived: list[str], metric_names: list[str]) -> tuple[RatedUnits | None, Matching]:
    """The units of one rating's values (all of one level: all dialogue-level or all turn-level), and
    how they matched. None when nothing matched. Dialogues are ordered by id."""
    matching = Matching(ratings=len(ratings))
    values: dict[str, dict[int | None, list[float]]] = defaultdict(lambda: defaultdict(list))
    first: dict[tuple[str, int | None], Rating] = {}
    for rating in ratings:
        if rating.dialogue_id not in scored:
            matching.miss("no_scored_dialogue", rating)
            continue
        values[rating.dialogue_id][rating.turn_index].append(rating.value)
        first.setdefault((rating.dialogue_id, rating.turn_index), rating)
    kinds = intents(tasks)
    rows, dialogue_of = [], []
    for dialogue_id in sorted(values):
        dialogue = scored[dialogue_id]
        at = values[dialogue_id]
        if None in at:              # a dialogue-level rating
            groups = [(dialogue.utterances, float(np.mean(at[None])), dialogue.metrics)]
            matching.matched += len(at[None])
        else:
            ratings_at = {index: first[(dialogue_id, index)] for index in at}
            groups = [(group, value, dialogue_metrics(group, tasks, perceived))
                      for group, value in _groups(dialogue, at, ratings_at, matching)]
        for group, value, metrics in groups:
            rows.append((value, [metrics[name] for name in metric_names],
                         float(np.mean([np.log1p(dialogue.words.get(u.turn_index, 0)) for u in group])),
                         [any(u.labels[task.name] == label for u in group) for _, task, label in kinds]))
            dialogue_of.append(dialogue_id)
    if not rows:
        return None, matching
    value, metrics, length, present = zip(*rows)
    dialogue_index = np.unique(np.array(dialogue_of), return_inverse=True)[1]
    return RatedUnits(ratings=np.array(value), metrics=np.array(metrics, dtype=np.float64),
                      length=np.array(length), present=np.array(present, dtype=bool),
                      dialogue=dialogue_index.reshape(-1)), matching
