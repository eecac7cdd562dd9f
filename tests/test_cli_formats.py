"""Every input format scored end to end through the real `empathy-score` CLI on the tiny bundle."""
import csv
import json
import subprocess
import sys

import pytest

from conftest import SAMPLE
from empathy_metric.schemas import PERCEIVED_DIMENSIONS

pytestmark = pytest.mark.scoring

TASKS = ("esconv_strategy", "emh_emotional_reactions", "emh_interpretations", "emh_explorations")
RECORD_KEYS = {"dialogue_id", "turn_index", "role", "labels", "probs", "perceived", "truncated", "truncated_parts",
               "repeats", "scored_by"}

# Two small conversations, written below in every layout the readers know.
CONVERSATIONS = {
    "c1": [("seeker", "i feel so sad and alone ."), ("agent", "i am sorry to hear that , it sounds really hard ."),
           ("seeker", "exams stress me out"), ("agent", "what happened after that ?")],
    "c2": [("seeker", "my order arrived broken and i need help"), ("agent", "please reset my password"),
           ("agent", "here is some information about the service ."), ("seeker", "thank you for listening .")],
}
STRATEGY = {"c1": ["Reflection of feelings", "Question"], "c2": ["Information", "Others"]}


def write_jsonl(path, records):
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return path


def read_jsonl(path):
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def labels_by_turn(records):
    return {(r["dialogue_id"], r["turn_index"]): (r["labels"], r["probs"], r["perceived"]) for r in records}


def openai_records(content_as_parts=False):
    for cid, turns in CONVERSATIONS.items():
        messages = []
        for who, text in turns:
            content = [{"type": "text", "text": text}] if content_as_parts else text
            messages.append({"role": "assistant" if who == "agent" else "user", "content": content})
        yield {"id": cid, "messages": messages}


def esconv_records():
    """ESConv as published on the hub: dialog / speaker usr|sys / text / strategy."""
    for cid, turns in CONVERSATIONS.items():
        strategies = iter(STRATEGY[cid])
        dialog = []
        for who, text in turns:
            turn = {"text": text, "speaker": "sys" if who == "agent" else "usr"}
            if who == "agent":
                turn["strategy"] = next(strategies)
            dialog.append(turn)
        yield {"id": cid, "emotion_type": "sadness", "survey_score": {"seeker": {"empathy": "5"}},
               "dialog": dialog}


def esconv_original_records():
    """The original ESConv.json layout: speaker seeker|supporter, content, annotation.strategy."""
    for cid, turns in CONVERSATIONS.items():
        strategies = iter(STRATEGY[cid])
        dialog = []
        for who, text in turns:
            turn = {"speaker": "supporter" if who == "agent" else "seeker", "content": text}
            turn["annotation"] = {"strategy": next(strategies)} if who == "agent" else {}
            dialog.append(turn)
        yield {"id": cid, "dialog": dialog}


def test_sample_log_scores_every_agent_turn(score_cli, tmp_path):
    out = tmp_path / "turns.jsonl"
    result = score_cli(SAMPLE, "-o", out)
    assert result.exit_code == 0, result.output
    records = read_jsonl(out)
    expected = [(json.loads(line)["id"], i, m["role"]) for line in SAMPLE.read_text().splitlines()
                for i, m in enumerate(json.loads(line)["messages"]) if m["role"] == "assistant"]
    assert [(r["dialogue_id"], r["turn_index"], r["role"]) for r in records] == expected
    for r in records:
        assert set(r) == RECORD_KEYS
        assert set(r["labels"]) == set(TASKS) == set(r["probs"])
        for task in TASKS:
            assert r["labels"][task] == max(r["probs"][task], key=r["probs"][task].get)
            assert abs(sum(r["probs"][task].values()) - 1) < 1e-5
        assert set(r["perceived"]) == set(PERCEIVED_DIMENSIONS)
        assert all(0 <= v <= 1 for v in r["perceived"].values())


def test_turn_index_counts_skipped_turns(score_cli, tmp_path):
    """turn_index is the position in the input's turn list, before system/empty turns are dropped."""
    log = write_jsonl(tmp_path / "logs.jsonl", [{"id": "x", "messages": [
        {"role": "system", "content": "be kind"}, {"role": "user", "content": ""},
        {"role": "user", "content": "i feel so sad"}, {"role": "assistant", "content": "i am sorry ."},
        {"role": "tool", "content": "{}"}, {"role": "assistant", "content": "what happened ?"}]}])
    out = tmp_path / "turns.jsonl"
    assert score_cli(log, "-o", out).exit_code == 0
    assert [r["turn_index"] for r in read_jsonl(out)] == [3, 5]


@pytest.mark.parametrize("layout", ["openai", "openai_parts", "sharegpt", "esconv", "esconv_original",
                                    "generic", "json_array"])
def test_every_layout_gives_the_same_scores(score_cli, tmp_path, layout):
    """The same conversations in every layout: same dialogue ids, turn indices, labels and scores."""
    reference = tmp_path / "ref.jsonl"
    assert score_cli(write_jsonl(tmp_path / "ref_in.jsonl", openai_records()), "-o", reference).exit_code == 0
    if layout == "openai":
        log = write_jsonl(tmp_path / "in.jsonl", openai_records())
    elif layout == "openai_parts":
        log = write_jsonl(tmp_path / "in.jsonl", openai_records(content_as_parts=True))
    elif layout == "sharegpt":
        log = write_jsonl(tmp_path / "in.jsonl", [
            {"id": r["id"], "conversations": [{"from": "gpt" if m["role"] == "assistant" else "human",
                                               "value": m["content"]} for m in r["messages"]]}
            for r in openai_records()])
    elif layout == "esconv":
        log = write_jsonl(tmp_path / "in.jsonl", esconv_records())
    elif layout == "esconv_original":      # a whole-file JSON array, like ESConv.json
        log = tmp_path / "ESConv.json"
        log.write_text(json.dumps(list(esconv_original_records()), indent=2), encoding="utf-8")
    elif layout == "generic":
        log = write_jsonl(tmp_path / "in.jsonl", [
            {"dialogue_id": r["id"], "turns": [{"speaker": "agent" if m["role"] == "assistant" else "customer",
                                                "text": m["content"]} for m in r["messages"]]}
            for r in openai_records()])
    else:
        log = tmp_path / "in.json"
        log.write_text(json.dumps(list(openai_records())), encoding="utf-8")
    out = tmp_path / "out.jsonl"
    result = score_cli(log, "-o", out)
    assert result.exit_code == 0, result.output
    assert labels_by_turn(read_jsonl(out)) == labels_by_turn(read_jsonl(reference))
    assert len(read_jsonl(out)) == 4


def test_esconv_and_openai_files_of_the_same_dialogues_give_identical_labels(score_cli, tmp_path):
    """The issue's 'Done when': plus gold strategies kept in the output (never used)."""
    esconv, openai = tmp_path / "esconv.jsonl", tmp_path / "openai.jsonl"
    assert score_cli(write_jsonl(tmp_path / "e.jsonl", esconv_records()), "-o", esconv).exit_code == 0
    assert score_cli(write_jsonl(tmp_path / "o.jsonl", openai_records()), "-o", openai).exit_code == 0
    e, o = read_jsonl(esconv), read_jsonl(openai)
    assert [r["labels"] for r in e] == [r["labels"] for r in o]
    assert [r["probs"] for r in e] == [r["probs"] for r in o]
    assert [r["gold"] for r in e] == [{"strategy": s} for cid in CONVERSATIONS for s in STRATEGY[cid]]
    assert all("gold" not in r for r in o)
    assert [r["role"] for r in e] == ["sys"] * 4


def test_esconv_original_keeps_annotation_as_gold(score_cli, tmp_path):
    log = tmp_path / "ESConv.json"
    log.write_text(json.dumps(list(esconv_original_records())), encoding="utf-8")
    out = tmp_path / "out.jsonl"
    assert score_cli(log, "-o", out).exit_code == 0
    assert read_jsonl(out)[0]["gold"] == {"annotation": {"strategy": "Reflection of feelings"},
                                          "strategy": "Reflection of feelings"}


def test_emh_csv(score_cli, tmp_path):
    log = tmp_path / "emotional-reactions-reddit.csv"
    with open(log, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["sp_id", "rp_id", "seeker_post", "response_post", "level", "rationales"])
        writer.writerow(["s1", "r1", "i feel so sad and alone .", "i am sorry to hear that .", "2", "sorry|"])
        writer.writerow(["s2", "r2", "exams stress me out\nso much", "what happened ?", "0", ""])
        writer.writerow(["", "", "hello , how are you today ?", "thank you for listening .", "", ""])
    out, summary = tmp_path / "out.jsonl", tmp_path / "summary.json"
    result = score_cli(log, "-o", out, "-o", summary)
    assert result.exit_code == 0, result.output
    records = read_jsonl(out)
    assert [(r["dialogue_id"], r["turn_index"], r["role"]) for r in records] == [
        ("s1_r1", 1, "supporter"), ("s2_r2", 1, "supporter"), (f"{log}:5", 1, "supporter")]
    assert records[0]["gold"] == {"level": "2", "rationales": "sorry|"}
    counts = json.loads(summary.read_text())["counts"]
    assert (counts["records_read"], counts["turns_read"], counts["turns_scored"]) == (3, 6, 3)


def test_stdin(score_cli, tmp_path):
    out = tmp_path / "out.jsonl"
    result = score_cli("-", "-o", out, input=SAMPLE.read_bytes())
    assert result.exit_code == 0, result.output
    records = read_jsonl(out)
    assert len(records) == 13 and records[0]["dialogue_id"] == "support-001"


def test_stdin_json_array_and_ids_from_line_numbers(score_cli, tmp_path):
    """A JSON array on stdin (no peeking possible), records without ids: '<stdin>:N' (N = record)."""
    records = [{"messages": m["messages"]} for m in openai_records()]
    out = tmp_path / "out.jsonl"
    result = score_cli("-", "-o", out, input="\n  \n" + json.dumps(records))
    assert result.exit_code == 0, result.output
    assert sorted({r["dialogue_id"] for r in read_jsonl(out)}) == ["<stdin>:1", "<stdin>:2"]


def test_ids_default_to_file_and_line(score_cli, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    records = [{"messages": r["messages"]} for r in openai_records()]
    (tmp_path / "logs.jsonl").write_text("\n" + json.dumps(records[0]) + "\n\n" + json.dumps(records[1]) + "\n")
    assert score_cli("logs.jsonl", "-o", "out.jsonl").exit_code == 0
    assert sorted({r["dialogue_id"] for r in read_jsonl(tmp_path / "out.jsonl")}) == ["logs.jsonl:2",
                                                                                     "logs.jsonl:4"]


def test_override_keys_and_agent_role(score_cli, tmp_path):
    """A layout no reader knows, described by flags; --agent-role picks whose turns are scored."""
    log = write_jsonl(tmp_path / "custom.jsonl", [
        {"conv": "k1", "utterances": [{"who": "client", "said": "i feel so sad"},
                                      {"who": "coach", "said": "i am sorry to hear that ."},
                                      {"who": "client", "said": "thank you"}]}])
    out = tmp_path / "out.jsonl"
    result = score_cli(log, "-o", out, "--turns-key", "utterances", "--role-key", "who",
                       "--text-key", "said", "--id-key", "conv", "--agent-role", "coach")
    assert result.exit_code == 0, result.output
    assert [(r["dialogue_id"], r["turn_index"], r["role"]) for r in read_jsonl(out)] == [("k1", 1, "coach")]
    # The same file scoring the client instead (repeatable flag, case-insensitive).
    result = score_cli(log, "-o", out, "--turns-key", "utterances", "--role-key", "who",
                       "--text-key", "said", "--id-key", "conv", "--agent-role", "CLIENT",
                       "--agent-role", "nobody")
    assert [r["turn_index"] for r in read_jsonl(out)] == [0, 2]


def test_format_flag_picks_the_turns_field(score_cli, tmp_path):
    """A record with both `messages` and `conversations`: auto takes messages, --format sharegpt the other."""
    log = write_jsonl(tmp_path / "both.jsonl", [{
        "id": "b", "messages": [{"role": "assistant", "content": "i am sorry to hear that ."}],
        "conversations": [{"from": "human", "value": "hello"}, {"from": "gpt", "value": "what happened ?"}]}])
    out = tmp_path / "out.jsonl"
    assert score_cli(log, "-o", out).exit_code == 0
    assert [r["turn_index"] for r in read_jsonl(out)] == [0]
    assert score_cli(log, "-o", out, "--format", "sharegpt").exit_code == 0
    assert [(r["turn_index"], r["role"]) for r in read_jsonl(out)] == [(1, "gpt")]


def test_outputs_jsonl_csv_and_summary_agree(score_cli, tmp_path):
    turns, table, summary = tmp_path / "t.jsonl", tmp_path / "t.csv", tmp_path / "s.json"
    result = score_cli(SAMPLE, "-o", turns, "-o", table, "-o", summary)
    assert result.exit_code == 0, result.output
    records = read_jsonl(turns)
    with open(table, newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == len(records)
    for row, record in zip(rows, records):
        assert (row["dialogue_id"], int(row["turn_index"]), row["role"]) == \
            (record["dialogue_id"], record["turn_index"], record["role"])
        assert row["esconv_strategy"] == record["labels"]["esconv_strategy"]
        assert float(row["emh_explorations.p.strong"]) == record["probs"]["emh_explorations"]["strong"]
        assert float(row["perceived.empathy"]) == record["perceived"]["empathy"]
    data = json.loads(summary.read_text())
    assert {"signature", "settings", "inputs", "counts", "corpus", "dialogues"} <= set(data)
    assert data["signature"]["model"] == "tiny-test" and len(data["signature"]["manifest_sha256"]) == 64
    assert data["counts"]["turns_scored"] == len(records) == 13
    assert [d["dialogue_id"] for d in data["dialogues"]] == [f"support-00{i}" for i in range(1, 6)]
    # Corpus value = mean over dialogues of the per-dialogue metric.
    rate = [d["metrics"]["esconv_strategy.rate.information"] for d in data["dialogues"]]
    assert data["corpus"]["esconv_strategy.rate.information"]["mean"] == pytest.approx(sum(rate) / 5)


def test_summary_table_on_stdout_without_outputs(score_cli):
    result = score_cli(SAMPLE, quiet=False)
    assert result.exit_code == 0, result.output
    assert "\nperceived." in result.stdout and "\n  empathy " in result.stdout     # names grouped by prefix
    assert "5 dialogues, 13 agent turns scored, 13 context turns, 1 turn skipped" in result.stdout


@pytest.mark.parametrize("argv", [["--help"], ["score", "--help"]])
def test_help_imports_neither_torch_nor_onnxruntime(argv):
    code = ("import sys\nfrom empathy_metric.cli.main import main\n"
            f"try:\n    main({argv!r})\nexcept SystemExit as exc:\n    assert exc.code == 0, exc.code\n"
            "heavy = [m for m in ('torch', 'onnxruntime', 'transformers', 'optimum', 'evaluate') "
            "if m in sys.modules]\nprint('HEAVY', heavy)\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "Usage:" in done.stdout
    assert done.stdout.strip().endswith("HEAVY []")
