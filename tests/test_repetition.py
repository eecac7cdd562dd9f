"""`repetition.rate`: which turns count as near repeats, and the metric through the real CLI (table,
summary with CI, gate with --fail-over, `metrics`) on a real (tiny, random) ONNX bundle."""
import json

import pytest
from click.testing import CliRunner

from empathy_metric.cli.main import cli
from empathy_metric.pipeline.repetition import repeats, repetition_rate

pytestmark = pytest.mark.scoring

STOCK = "I'm so sorry you are going through this. That sounds really hard."


def test_near_repeats_are_caught_and_different_replies_are_not():
    texts = [STOCK,
             "i'm so SORRY you are going through this... that sounds hard!",   # case, punctuation, one word
             "How are you feeling?",
             "How are you doing?",                                           # 3 of 4 words: ratio 0.75
             "Have you talked to your manager about moving the deadline?",
             STOCK]
    assert repeats(texts) == [False, True, False, False, False, True]
    assert repetition_rate(texts) == pytest.approx(2 / 6)


def test_word_order_counts_and_empty_turns_never_repeat():
    assert repeats(["you are right", "right you are"]) == [False, False]
    assert repeats(["", "", "..."]) == [False, False, False]
    assert repetition_rate([]) == 0.0


def _dialogue(dialogue_id, replies):
    messages = []
    for k, reply in enumerate(replies):
        messages += [{"role": "user", "content": f"Message {k}: my landlord wants me out by Friday."},
                     {"role": "assistant", "content": reply}]
    return {"id": dialogue_id, "messages": messages}


@pytest.fixture
def logs(tmp_path):
    varied = ["That's a short notice. Did he give it in writing?", "Friday is very soon, no wonder you panic.",
              "A tenants' union could tell you whether this is even legal.", "Where could you stay meanwhile?"]
    stock = [STOCK] * 4
    paths = {}
    for name, replies in (("varied", varied), ("stock", stock)):
        path = tmp_path / f"{name}.jsonl"
        path.write_text("".join(json.dumps(_dialogue(f"{name}-{i}", replies[i:] + replies[:i])) + "\n"
                                for i in range(3)))
        paths[name] = path
    return paths


def run(*args):
    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)


def test_summary_gate_and_table(logs, tiny_bundle, tmp_path):
    summary = tmp_path / "summary.json"
    result = run("score", logs["stock"], "-m", tiny_bundle, "-q", "-o", summary,
                 "--fail-over", "repetition.rate=0.2")
    assert result.exit_code == 1, result.output
    data = json.loads(summary.read_text())
    assert data["corpus"]["repetition.rate"]["mean"] == pytest.approx(0.75)     # 3 of 4 turns repeat
    assert [d["metrics"]["repetition.rate"] for d in data["dialogues"]] == [0.75] * 3
    assert run("score", logs["varied"], "-m", tiny_bundle, "-q",
               "--fail-over", "repetition.rate=0.2").exit_code == 0
    table = run("score", logs["stock"], "-m", tiny_bundle).output
    assert "repetition" in table and "lower" in table


def test_listed_by_metrics_as_lower_is_better_without_a_validity_warning(tiny_bundle):
    result = run("metrics", "-m", tiny_bundle, "--json")
    assert result.exit_code == 0, result.output
    entry = next(m for m in json.loads(result.output)["metrics"] if m["name"] == "repetition.rate")
    assert entry["direction"] == "lower" and entry["model_free"] is True
