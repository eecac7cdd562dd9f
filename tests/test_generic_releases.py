"""The generic releases of the perturbation suite: stock lines from the "eval" template sets, which
training never sees, replace every agent turn and nothing else."""
import random

from empathy_metric.dialogue import Dialogue, Turn
from empathy_metric.training.perturbation_suite import KINDS, perturbed
from empathy_metric.training.perturbations import CANNED, GENERIC_SETS

AGENT = frozenset({"assistant"})


def test_train_and_eval_template_sets_are_disjoint():
    assert set(GENERIC_SETS) == {"generic_sympathy", "generic_questions"}
    lines = {part: {line.lower() for s in GENERIC_SETS.values() for line in s[part]} for part in ("train", "eval")}
    assert not lines["train"] & lines["eval"]
    assert all(len(s["eval"]) >= 10 for s in GENERIC_SETS.values())
    assert not lines["eval"] & {line.lower() for line in CANNED["train"]}
    assert all(line.rstrip().endswith("?") for line in GENERIC_SETS["generic_questions"]["eval"])


def test_a_generic_release_replaces_agent_turns_with_eval_lines_only():
    turns = [Turn(role="user", text="My dog died this morning.", index=0),
             Turn(role="assistant", text="Oh no, how old was he? Were you with him?", index=1),
             Turn(role="user", text="Fourteen. I was at work.", index=2),
             Turn(role="assistant", text="Not being there must make it even harder.", index=3)]
    dialogue = Dialogue(dialogue_id="d", turns=turns, turns_read=4)
    for kind in GENERIC_SETS:
        assert kind in KINDS
        out = perturbed(dialogue, kind, AGENT, [], random.Random(0))
        assert [t.text for t in out.turns if t.role == "user"] == [turns[0].text, turns[2].text]
        assert all(t.text in GENERIC_SETS[kind]["eval"] for t in out.turns if t.role == "assistant")


def test_the_repetitive_release_loops_over_its_own_earlier_replies():
    turns = [Turn(role="user" if k % 2 == 0 else "assistant", text=f"turn {k}", index=k) for k in range(8)]
    out = perturbed(Dialogue(dialogue_id="d", turns=turns, turns_read=8), "repetitive", AGENT, [], random.Random(1))
    agent = [t.text for t in out.turns if t.role == "assistant"]
    assert agent[0] == "turn 1" and agent[1] == "turn 1"
    assert all(text in ("turn 1", "turn 3", "turn 5")[:k] for k, text in enumerate(agent[1:], start=1))
    assert [t.text for t in out.turns if t.role == "user"] == ["turn 0", "turn 2", "turn 4", "turn 6"]


def test_the_suite_reports_every_release_in_sd_with_a_ci():
    """run_suite with a transparent scorer (reply length in words / 40): the real replies here are long,
    so every stock-line release must come out below them, in SD units with its CI."""
    import numpy as np

    from empathy_metric.pipeline.windows import WindowSettings
    from empathy_metric.reporting.statistics import BootstrapSettings
    from empathy_metric.training.perturbation_suite import run_suite

    def predict(windows):
        return np.array([[min(len(w.target.split()) / 40, 1.0)] for w in windows])
    rng = random.Random(3)
    dialogues = []
    for d in range(12):
        turns = []
        for k in range(6):
            role = "user" if k % 2 == 0 else "assistant"
            words = rng.randint(14, 30) if role == "assistant" else 8
            turns.append(Turn(role=role, text=" ".join(f"w{d}x{k}y{i}" for i in range(words)), index=k))
        dialogues.append(Dialogue(dialogue_id=f"d{d}", turns=turns, turns_read=6))
    report = run_suite(predict, dialogues, WindowSettings(), AGENT, ["length"], BootstrapSettings(n_resamples=200))
    assert set(report["changes"]) == set(KINDS)
    for kind in ("generic_sympathy", "generic_questions", "canned", "curt"):
        change = report["changes"][kind]["length"]
        assert change["ci_in_sd"][1] < 0 and change["ci_in_sd"][0] <= change["change_in_sd"] <= change["ci_in_sd"][1]
    assert report["changes"]["no_op"]["length"]["mean_change"] == 0
