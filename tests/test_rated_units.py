"""Ratings matched to scored turns and dialogues (reporting/rated_units.py): which agent turns a
turn-level rating rates, averaging, and unmatched ratings counted by reason."""
import numpy as np
import pytest

from empathy_metric.io.ratings import Rating
from empathy_metric.pipeline.aggregation import dialogue_metrics, metric_names
from empathy_metric.pipeline.decoding import UtteranceScore
from empathy_metric.reporting.rated_units import ScoredDialogue, intents, rated_units
from empathy_metric.schemas import Task

pytestmark = pytest.mark.scoring

TASK = Task(name="strategy", labels=("Question", "Others"))
DIMS = ["empathy"]
NAMES = metric_names([TASK], DIMS)


def _dialogue(dialogue_id: str, agent_turns: dict[int, tuple[str, float]], turns_read: int) -> ScoredDialogue:
    """Agent turns at the given indices: (label, perceived empathy); every turn has index + 1 words."""
    utterances = [UtteranceScore(dialogue_id, i, "assistant", {TASK.name: label},
                                 {TASK.name: {"Question": float(label == "Question"),
                                              "Others": float(label == "Others")}}, {"empathy": score})
                  for i, (label, score) in sorted(agent_turns.items())]
    return ScoredDialogue(dialogue_id, utterances, dialogue_metrics(utterances, [TASK], DIMS),
                          {i: i + 1 for i in range(turns_read)}, turns_read)


SCORED = {"a": _dialogue("a", {1: ("Question", 0.2), 3: ("Others", 0.4), 5: ("Question", 0.9),
                                7: ("Others", 0.5)}, turns_read=9),
          "b": _dialogue("b", {1: ("Others", 0.7)}, turns_read=3)}


def rating(dialogue_id, turn, value, line=1):
    return Rating(dialogue_id, turn, "helpful", value, f"r.csv:{line}")


def _column(units, name):
    return units.metrics[:, NAMES.index(name)]


def test_a_user_turn_rates_the_agent_turns_since_the_previous_rated_turn():
    ratings = [rating("a", 4, 2.0), rating("a", 5, 4.0), rating("a", 8, 5.0), rating("b", 2, 3.0)]
    units, matching = rated_units(ratings, SCORED, [TASK], DIMS, NAMES)
    # a: turn 4 (user) rates agent turns 1 and 3; turn 5 (agent) rates itself; turn 8 rates turn 7 only
    assert units.ratings.tolist() == [2.0, 4.0, 5.0, 3.0]
    assert _column(units, "perceived.empathy") == pytest.approx([0.3, 0.9, 0.5, 0.7])
    assert _column(units, "strategy.rate.question") == pytest.approx([0.5, 1.0, 0.0, 0.0])
    assert units.length == pytest.approx([np.mean(np.log1p([2, 4])), np.log1p(6), np.log1p(8), np.log1p(2)])
    assert units.present.tolist() == [[True, True], [True, False], [False, True], [False, True]]
    assert units.dialogue.tolist() == [0, 0, 0, 1]
    assert matching.to_dict() == {"ratings": 4, "matched": 4, "unmatched": {}}
    assert [name for name, _, _ in intents([TASK])] == ["strategy.question", "strategy.others"]


def test_dialogue_level_ratings_use_the_dialogue_metrics_and_average_repeats():
    ratings = [rating("b", None, 2.0), rating("a", None, 4.0), rating("a", None, 5.0)]
    units, matching = rated_units(ratings, SCORED, [TASK], DIMS, NAMES)
    assert units.ratings.tolist() == [4.5, 2.0]                    # dialogues in id order
    assert units.metrics.tolist() == [[SCORED[d].metrics[n] for n in NAMES] for d in ("a", "b")]
    assert matching.matched == 3


def test_unmatched_ratings_are_counted_by_reason_with_examples():
    ratings = [rating("zzz", None, 1.0, line=2), rating("a", 0, 3.0, line=3), rating("a", 2, 3.0, line=4),
               rating("a", 40, 1.0, line=5), rating("b", 1, 4.0, line=6), rating("b", 2, 4.0, line=7)]
    units, matching = rated_units(ratings, SCORED, [TASK], DIMS, NAMES)
    found = matching.to_dict()
    assert found["ratings"] == 6 and found["matched"] == 2
    assert found["unmatched"] == {
        "no_agent_turn": {"count": 2, "first": ["r.csv:3 (dialogue 'a', turn 0)", "r.csv:7 (dialogue 'b', turn 2)"]},
        "no_scored_dialogue": {"count": 1, "first": ["r.csv:2 (dialogue 'zzz')"]},
        "turn_out_of_range": {"count": 1, "first": ["r.csv:5 (dialogue 'a', turn 40)"]}}
    assert "4 of 6 ratings match no scored turn or dialogue" in matching.describe()
    assert units.ratings.tolist() == [3.0, 4.0]     # a: turn 2 rates agent turn 1; b: agent turn 1 itself


def test_nothing_matched_gives_no_units():
    units, matching = rated_units([rating("zzz", 1, 1.0)], SCORED, [TASK], DIMS, NAMES)
    assert units is None and matching.to_dict()["unmatched"]["no_scored_dialogue"]["count"] == 1
