"""`empathy-score analyze`, run for real (CliRunner, the tiny bundle, ONNX Runtime): turn-level ratings
from a side file, dialogue-level ratings carried by the records, the same scores as `score`, unmatched
ratings counted and reported, the <10-dialogue warning, FILE:LINE errors and usage errors."""
import json
import random

import numpy as np
import pytest
from click.testing import CliRunner
from scipy import stats

from builders import CORPUS
from conftest import SAMPLE
from empathy_metric.cli.main import cli

pytestmark = pytest.mark.scoring


def run(*args):
    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)


def dialogue(k: int) -> dict:
    """user/assistant turns (3 to 6 agent turns), texts from the tiny tokenizer's corpus, a survey."""
    rng = random.Random(k)
    messages = []
    for _ in range(3 + k % 4):
        messages += [{"role": "user", "content": rng.choice(CORPUS[6:12])},
                     {"role": "assistant", "content": " ".join(rng.sample(CORPUS[:6], 1 + k % 3))}]
    return {"id": f"d{k:02d}", "messages": messages, "survey": {"empathy": str(1 + k % 5)}}


@pytest.fixture
def in_tmp(tmp_path, monkeypatch):
    """Run in tmp_path, with 12 dialogues in logs.jsonl and turn-level ratings in ratings.csv: on user
    turn 4 (rates agent turns 1 and 3) and on agent turn 5 (itself)."""
    monkeypatch.chdir(tmp_path)
    records = [dialogue(k) for k in range(12)]
    (tmp_path / "logs.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    rows = [f"{r['id']},{turn},{(k + turn) % 5 + 1}" for k, r in enumerate(records) for turn in (4, 5)]
    (tmp_path / "ratings.csv").write_text("dialogue_id,turn_index,helpful\n" + "\n".join(rows) + "\n")
    return tmp_path


def analyze(model, *args, out="out.json"):
    result = run("analyze", "-m", model, "-q", "--bootstrap", 200, *args, "-o", out)
    data = json.loads(open(out).read()) if result.exit_code == 0 and out.endswith(".json") else None
    return result, data


def test_turn_and_dialogue_ratings(tiny_bundle, in_tmp):
    result, data = analyze(tiny_bundle, "logs.jsonl", "--ratings", "ratings.csv",
                           "--record-rating", "empathy=survey.empathy")
    assert result.exit_code == 0, result.output
    assert result.stderr == "" and data["warnings"] == []
    survey, helpful = data["analyses"]
    assert (survey["rating"], survey["level"], survey["source"]) == ("empathy", "dialogue", "records: survey.empathy")
    assert (survey["n_units"], survey["n_dialogues"]) == (12, 12)
    assert (helpful["rating"], helpful["level"], helpful["n_units"], helpful["n_dialogues"]) == ("helpful", "turn", 24, 12)
    assert helpful["matching"] == {"ratings": 24, "matched": 24, "unmatched": {}}
    assert data["ratings_file"]["columns"] == ["helpful"]
    names = [e["metric"] for e in helpful["agreement"]]
    assert names[-1] == "reply_length" and "perceived.empathy" in names and "esconv_strategy.rate.question" in names
    row = helpful["agreement"][names.index("perceived.empathy")]["pearson"]
    assert row["ci_low"] <= row["value"] <= row["ci_high"]
    assert [i["intent"] for i in helpful["intents"]][:2] == ["esconv_strategy.question",
                                                             "esconv_strategy.restatement_or_paraphrasing"]
    assert data["signature"]["model"] and data["bootstrap"]["n_resamples"] == 200


def test_dialogue_agreement_uses_the_metrics_score_gives(tiny_bundle, in_tmp):
    """The dialogue-level Pearson r is scipy's r of `score`'s per-dialogue metric with the ratings."""
    assert run("score", "logs.jsonl", "-m", tiny_bundle, "-q", "-o", "summary.json").exit_code == 0
    summary = json.loads((in_tmp / "summary.json").read_text())
    rows = sorted(summary["dialogues"], key=lambda d: d["dialogue_id"])
    ratings = [1 + int(d["dialogue_id"][1:]) % 5 for d in rows]
    _, data = analyze(tiny_bundle, "logs.jsonl", "--record-rating", "empathy=survey.empathy")
    agreement = {e["metric"]: e["pearson"]["value"] for e in data["analyses"][0]["agreement"]}
    varying = [m for m in rows[0]["metrics"] if np.ptp([d["metrics"][m] for d in rows]) > 1e-9]
    assert "perceived.empathy" in varying
    for metric in rows[0]["metrics"]:
        if metric in varying:
            expected = stats.pearsonr([d["metrics"][metric] for d in rows], ratings)[0]
            assert agreement[metric] == pytest.approx(expected, abs=1e-9), metric
        else:
            assert agreement[metric] is None, metric


def test_unmatched_ratings_are_counted_and_reported(tiny_bundle, in_tmp):
    with open("ratings.csv", "a") as handle:
        handle.write("nobody,1,4\nd00,99,2\nd01,0,3\n")
    result, data = analyze(tiny_bundle, "logs.jsonl", "--ratings", "ratings.csv")
    assert result.exit_code == 0, result.output
    matching = data["analyses"][0]["matching"]
    assert (matching["ratings"], matching["matched"]) == (27, 24)
    assert {k: v["count"] for k, v in matching["unmatched"].items()} == {
        "no_agent_turn": 1, "no_scored_dialogue": 1, "turn_out_of_range": 1}
    assert matching["unmatched"]["no_scored_dialogue"]["first"] == ["ratings.csv:26 (dialogue 'nobody', turn 1)"]
    assert "warning: rating 'helpful' (turn level): 3 of 27 ratings match no scored turn or dialogue" in result.stderr


def test_fewer_than_10_rated_dialogues_warns(tiny_bundle, in_tmp):
    (in_tmp / "few.csv").write_text("dialogue_id,score\nsupport-001,4\nsupport-002,2\nsupport-003,5\n")
    result, data = analyze(tiny_bundle, SAMPLE, "--ratings", "few.csv")
    assert result.exit_code == 0, result.output
    warning = "rating 'score' (dialogue level): only 3 rated dialogue(s): with fewer than 10, CIs are unreliable"
    assert warning in data["warnings"] and f"warning: {warning}\n" in result.stderr
    assert data["analyses"][0]["scored_dialogues_without_rating"] == 2


def test_markdown_and_the_terminal_tables(tiny_bundle, in_tmp):
    result, _ = analyze(tiny_bundle, "logs.jsonl", "--ratings", "ratings.csv", out="out.md")
    assert result.exit_code == 0, result.output
    text = (in_tmp / "out.md").read_text()
    assert "## rating 'helpful' (turn level, ratings file): 24 rated turn groups in 12 dialogues" in text
    assert "| esconv_strategy.rate.restatement_or_paraphrasing |" in text
    assert "| esconv_strategy.restatement_or_paraphrasing |" in text
    shown = run("analyze", "logs.jsonl", "-m", tiny_bundle, "--ratings", "ratings.csv", "--bootstrap", 100)
    assert shown.exit_code == 0, shown.output
    lines = shown.stdout.splitlines()
    assert max(len(line) for line in lines) <= 80 and "…" not in shown.stdout
    for whole in ("  restatement_or_paraphrasing ", "  Restatement or Paraphrasing ", "reply length (log 1+words)"):
        assert any(line.startswith(whole) for line in lines), whole


def test_html_page_holds_every_table(tiny_bundle, in_tmp):
    pytest.importorskip("jinja2")
    result, data = analyze(tiny_bundle, "logs.jsonl", "--ratings", "ratings.csv", out="out.html")
    assert result.exit_code == 0, result.output
    page = (in_tmp / "out.html").read_text()
    assert page.startswith("<!DOCTYPE html>") and "<script src" not in page and "http" not in page.split("<body>")[1]
    assert "rating &#39;helpful&#39; (turn level, ratings file)" in page
    assert page.count("<table") == 2 and "esconv_strategy.rate.restatement_or_paraphrasing" in page


def test_results_do_not_depend_on_record_order(tiny_bundle, in_tmp):
    _, first = analyze(tiny_bundle, "logs.jsonl", "--ratings", "ratings.csv")
    lines = (in_tmp / "logs.jsonl").read_text().splitlines(keepends=True)
    random.Random(3).shuffle(lines)
    (in_tmp / "shuffled.jsonl").write_text("".join(lines))
    _, second = analyze(tiny_bundle, "shuffled.jsonl", "--ratings", "ratings.csv")
    assert first["analyses"] == second["analyses"]


def test_bad_ratings_are_exit_3_with_file_line_and_field(tiny_bundle, in_tmp):
    with open("ratings.csv", "a") as handle:
        handle.write("d00,4,n/a\n")
    result = run("analyze", "logs.jsonl", "-m", tiny_bundle, "--ratings", "ratings.csv")
    assert (result.exit_code, result.stderr) == (3, "error: ratings.csv:26: rating 'helpful' is not a number: 'n/a'\n")
    records = (in_tmp / "logs.jsonl").read_text().splitlines()
    records[1] = records[1].replace('"empathy": "2"', '"empathy": "high"')
    (in_tmp / "bad.jsonl").write_text("\n".join(records) + "\n")
    result = run("analyze", "bad.jsonl", "-m", tiny_bundle, "--record-rating", "e=survey.empathy")
    assert (result.exit_code, result.stderr) == (3, "error: bad.jsonl:2: rating 'e' is not a number: 'high'\n")


def test_no_rating_matching_anything_is_exit_3(tiny_bundle, in_tmp):
    (in_tmp / "other.csv").write_text("dialogue_id,score\nx1,4\n")
    result = run("analyze", "logs.jsonl", "-m", tiny_bundle, "--ratings", "other.csv")
    assert result.exit_code == 3
    assert "no rating matches a scored dialogue or turn (rating ids look like 'x1', scored dialogue ids " \
           "like 'd00'" in result.stderr


@pytest.mark.parametrize("args, message", [
    ([], "error: no ratings: give --ratings FILE and/or --record-rating PATH\n"),
    (["--ratings", "ratings.csv", "-o", "out.txt"],
     "error: -o out.txt: analyze writes .json (everything), .md (the tables in Markdown) or .html (the tables "
     "in a self-contained page)\n"),
    (["--ratings", "ratings.csv", "--high", "abc"],
     "error: --high abc: expected METRIC=VALUE, e.g. --high perceived.empathy=0.6\n"),
    (["--ratings", "ratings.csv", "--record-rating", "helpful=survey.empathy"],
     "error: rating 'helpful' is both a --record-rating and a column of ratings.csv: name the record rating "
     "otherwise (NAME=PATH)\n"),
])
def test_usage_errors_are_exit_2(tiny_bundle, in_tmp, args, message):
    result = run("analyze", "logs.jsonl", "-m", tiny_bundle, *args)
    assert (result.exit_code, result.stderr) == (2, message)


def test_high_threshold_per_rating(tiny_bundle, in_tmp):
    _, data = analyze(tiny_bundle, "logs.jsonl", "--ratings", "ratings.csv", "--record-rating",
                      "empathy=survey.empathy", "--high", "3", "--high", "helpful=5")
    survey, helpful = data["analyses"]
    assert (survey["high"], survey["n_high"]) == (3.0, sum(1 + k % 5 >= 3 for k in range(12)))
    assert helpful["high"] == 5.0 and helpful["n_high"] == int(np.sum([(k + t) % 5 + 1 == 5 for k in range(12)
                                                                       for t in (4, 5)]))


def test_a_binary_rating_is_split_on_its_two_values_with_an_auc_and_its_ci(tiny_bundle, in_tmp):
    """A 0/1 rating (mostly 0: its median is 0) used to get 'no unit is rated below 0: no ROC-AUC'."""
    records = [json.loads(line) for line in open("logs.jsonl")]
    for k, record in enumerate(records):
        record["survey"]["resolved"] = int(k % 3 == 0)
    with open("logs.jsonl", "w") as handle:
        handle.write("".join(json.dumps(r) + "\n" for r in records))
    result, data = analyze(tiny_bundle, "logs.jsonl", "--record-rating", "resolved=survey.resolved")
    assert result.exit_code == 0, result.output
    resolved = data["analyses"][0]
    assert (resolved["high"], resolved["n_high"]) == (1.0, 4)
    assert not any("ROC-AUC" in w for w in resolved["warnings"])
    auc = next(a for a in resolved["agreement"] if a["metric"] == "perceived.empathy")["auc"]
    assert auc["value"] is not None
    # a CI over resampled dialogues, or a note saying why there is none
    assert (auc["ci_low"] is not None and auc["ci_low"] <= auc["value"] <= auc["ci_high"]) or \
        "resamples of dialogues" in auc["ci_note"]
    text = run("analyze", "-m", tiny_bundle, "--bootstrap", 200, "logs.jsonl", "--record-rating",
               "resolved=survey.resolved").stdout
    assert "high = rating >= 1 (4 of 12)" in " ".join(text.split())
