"""The `evaluate` metric: a real `evaluate.load` of the module shipped in the package, offline, from
a temporary working directory with a temporary HF_HOME; same numbers as the Scorer."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import empathy_metric
from empathy_metric.api import response_dialogue
from empathy_metric.errors import InputError

PREDICTIONS = ["I'm so sorry , that sounds really hard .", "please send a photo of the item .",
               "what happened after that ?", ""]
CONTEXTS = [["i feel so sad and alone ."],
            "my order arrived broken and i need help",
            ["exams stress me out", "that sounds stressful .", "i failed one today"],
            []]

SCRIPT = r"""
import json, os, sys
import empathy_metric, evaluate
from empathy_metric.api import Scorer

bundle, predictions, contexts = sys.argv[1], json.loads(sys.argv[2]), json.loads(sys.argv[3])
metric = evaluate.load(empathy_metric.EVALUATE_MODULE, model=bundle, batch_size=3, keep_in_memory=True)
out = metric.compute(predictions=predictions, contexts=contexts, bootstrap=300, seed=4, details=True)
again = metric.compute(predictions=predictions, contexts=contexts, bootstrap=300, seed=4, details=True)
loads_after_two = metric.scoring.loads
flat = metric.compute(predictions=predictions, contexts=contexts, bootstrap=300, seed=4)
flat_no_ci = metric.compute(predictions=predictions, contexts=contexts, bootstrap=0)
one_by_one = metric.compute(predictions=predictions, contexts=contexts, batch_size=1, bootstrap=0, details=True)
for p, c in zip(predictions[:2], contexts[:2]):
    metric.add(prediction=p, contexts=c)
metric.add_batch(predictions=predictions[2:], contexts=contexts[2:])
incremental = metric.compute(details=True)

# the same replies, scored as the last turn of whole dialogues by the Scorer (the CLI's path)
records = []
for i, (p, c) in enumerate(zip(predictions, contexts)):
    turns = [c] if isinstance(c, str) else c
    roles = ["user" if (len(turns) - 1 - k) % 2 == 0 else "assistant" for k in range(len(turns))]
    records.append({"id": f"d{i}", "messages": [{"role": r, "content": t} for r, t in zip(roles, turns)]
                    + [{"role": "assistant", "content": p}]})
direct = Scorer.from_pretrained(bundle).score(records[:3])        # the reader drops an empty reply
last = [[u for u in direct.utterances if u.dialogue_id == f"d{i}"][-1] for i in range(3)]
arrow = [str(p) for p in __import__("pathlib").Path(os.environ["HF_HOME"]).rglob("*.arrow")]
print(json.dumps({"out": out, "again": again, "one_by_one": one_by_one, "incremental": incremental,
                  "flat": flat, "flat_keys": list(flat), "flat_no_ci": flat_no_ci,
                  "loads_after_two": loads_after_two, "loads_end": metric.scoring.loads,
                  "direct_probs": [u.probs for u in last], "direct_perceived": [u.perceived for u in last],
                  "arrow_files": arrow, "module": type(metric).__module__, "cwd": os.getcwd()}))
"""


@pytest.fixture(scope="module")
def loaded(tiny_bundle, tmp_path_factory):
    work = tmp_path_factory.mktemp("elsewhere")
    env = dict(os.environ, HF_HOME=str(work / "hf"), HF_EVALUATE_OFFLINE="1", HF_HUB_OFFLINE="1",
               HF_DATASETS_OFFLINE="1", XDG_CACHE_HOME=str(work / "cache"))
    # the subprocess imports the empathy_metric these tests import (the installed one in CI)
    env["PYTHONPATH"] = str(Path(empathy_metric.__file__).resolve().parents[1])
    done = subprocess.run([sys.executable, "-c", SCRIPT, str(tiny_bundle), json.dumps(PREDICTIONS),
                           json.dumps(CONTEXTS)], cwd=work, env=env, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1]), work


def test_loads_offline_from_another_working_directory(loaded):
    data, work = loaded
    assert data["cwd"] == str(work) and data["module"].startswith("evaluate_modules.metrics.empathy_metric")
    assert data["out"]["n_responses"] == len(PREDICTIONS) - 1 and data["out"]["n_skipped_empty"] == 1


def test_scores_every_response_like_the_scorer(loaded):
    out = loaded[0]["out"]
    tasks = list(out["labels"])
    assert tasks == ["esconv_strategy", "emh_emotional_reactions", "emh_interpretations", "emh_explorations"]
    for i in range(3):
        probs = {t: out["probs"][t][i] for t in tasks}
        assert probs == loaded[0]["direct_probs"][i]
        assert {d: out["perceived"][d][i] for d in out["perceived"]} == loaded[0]["direct_perceived"][i]
        for t in tasks:
            assert out["labels"][t][i] == max(probs[t], key=probs[t].get)
    assert out["truncated"] == [False, False, False, None]
    # an empty reply is never scored (as the readers skip an empty turn): None, and counted
    assert all(out["perceived"][d][3] is None for d in out["perceived"])
    assert all(out[key][t][3] is None for key in ("labels", "probs") for t in tasks)
    assert out["n_responses"] == 3 and out["n_skipped_empty"] == 1


def test_aggregates_with_ci_are_reproducible_and_batch_independent(loaded):
    data = loaded[0]
    corpus = data["out"]["corpus"]["perceived.empathy"]
    scores = [s for s in data["out"]["perceived"]["empathy"] if s is not None]
    assert corpus["mean"] == pytest.approx(sum(scores) / len(scores), abs=1e-12)
    assert corpus["n_dialogues"] == corpus["n_turns"] == len(PREDICTIONS) - 1   # the empty one is skipped
    assert min(scores) <= corpus["ci_low"] <= corpus["mean"] <= corpus["ci_high"] <= max(scores)
    assert data["out"]["bootstrap"]["n_resamples"] == 300 and data["out"]["bootstrap"]["unit"] == "response"
    assert data["again"] == data["out"]
    assert "ci_low" not in data["one_by_one"]["corpus"]["perceived.empathy"]
    for key in ("labels", "probs", "perceived"):
        assert data["one_by_one"][key] == data["out"][key] == data["incremental"][key]


def test_compute_returns_flat_numbers_by_default(loaded):
    data = loaded[0]
    flat, corpus = data["flat"], data["out"]["corpus"]
    assert all(isinstance(v, (int, float)) for v in flat.values())        # numbers only, no nesting
    assert data["flat_keys"][:3] == ["perceived.empathy", "perceived.empathy_ci_low", "perceived.empathy_ci_high"]
    for name, entry in corpus.items():
        assert flat[name] == entry["mean"]
        assert (flat[f"{name}_ci_low"], flat[f"{name}_ci_high"]) == (entry["ci_low"], entry["ci_high"])
    assert set(flat) == {k for n in corpus for k in (n, f"{n}_ci_low", f"{n}_ci_high")} | {"n_responses",
                                                                                          "n_skipped_empty"}
    assert flat["n_responses"] == 3 and flat["n_skipped_empty"] == 1
    assert set(data["flat_no_ci"]) == set(corpus) | {"n_responses", "n_skipped_empty"}


def test_model_loads_once_per_instance_and_no_arrow_files(loaded):
    data = loaded[0]
    assert data["loads_after_two"] == 1
    assert data["loads_end"] == 2          # compute(batch_size=1) asked for another configuration
    assert data["arrow_files"] == []


@pytest.mark.scoring
def test_module_folder_layout_and_metric_card():
    folder = Path(empathy_metric.EVALUATE_MODULE)
    assert (folder / f"{folder.name}.py").is_file()       # evaluate.load(DIR) needs DIR/<basename>.py
    card = (folder / "README.md").read_text()
    for section in ("## Metric Description", "## How to Use", "### Inputs", "### Output Values",
                    "## Limitations and Bias", "## Citation", "keep_in_memory", "Xu, Zhichao and Jiang, Jiepu"):
        assert section in card


@pytest.mark.scoring
def test_context_roles_alternate_and_end_with_the_user():
    dialogue = response_dialogue(0, "reply", ["u1", "a1", "u2"])
    assert [t.role for t in dialogue.turns] == ["user", "assistant", "user", "assistant"]
    assert [t.role for t in response_dialogue(1, "reply", ["a0", "u1"]).turns] == ["assistant", "user",
                                                                                   "assistant"]
    with pytest.raises(InputError, match=r"predictions\[2\] must be a string"):
        response_dialogue(2, None, [])


def test_bad_contexts_and_lone_surrogates_through_evaluate(tiny_bundle, tmp_path):
    """None inside a context list is named by its place; a lone surrogate (which Arrow cannot hold)
    becomes '?', as the readers do, instead of crashing inside pyarrow."""
    script = (
        "import sys, empathy_metric, evaluate\n"
        "from empathy_metric.errors import InputError\n"
        "metric = evaluate.load(empathy_metric.EVALUATE_MODULE, model=sys.argv[1], keep_in_memory=True)\n"
        "try:\n"
        "    metric.compute(predictions=['ok', 'fine'], contexts=[['hi'], ['a', None]])\n"
        "except InputError as exc:\n"
        "    print(exc)\n"
        "out = metric.compute(predictions=['so sorry \\ud800'], contexts=[['i am sad \\udfff']])\n"
        "print(out['n_responses'])\n")
    env = dict(os.environ, HF_HOME=str(tmp_path / "hf"), HF_EVALUATE_OFFLINE="1", HF_HUB_OFFLINE="1",
               HF_DATASETS_OFFLINE="1", XDG_CACHE_HOME=str(tmp_path / "cache"))
    done = subprocess.run([sys.executable, "-c", script, str(tiny_bundle)], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.splitlines() == ["contexts[1][1] must be a string, got null", "1"]
