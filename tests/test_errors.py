"""Malformed input: exact messages (FILE:LINE: what is wrong) and the documented exit codes
(0 ok, 2 usage, 3 bad input, 4 model/runtime); `--on-error skip` skips and counts."""
import json

import pytest

pytestmark = pytest.mark.scoring

GOOD = '{"messages": [{"role": "user", "content": "i feel so sad"}, {"role": "assistant", "content": "i am sorry ."}]}'


@pytest.fixture
def in_tmp(tmp_path, monkeypatch):
    """Run in tmp_path so that messages name the file as given: `logs.jsonl:17: ...`."""
    monkeypatch.chdir(tmp_path)
    return tmp_path


def log_with_bad_line_17(path, bad: str):
    path.write_text((GOOD + "\n") * 16 + bad + "\n" + GOOD + "\n", encoding="utf-8")
    return path.name


BAD_LINES = {
    '{"messages": [{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"}, '
    '{"role": "user", "content": "c"}, {"role": "assistant"}]}':
        "turn 3 has no text field (looked for: content, text, value, utterance)",
    '{"messages": [{"content": "a"}]}': "turn 0 has no role field (looked for: role, from, speaker, author)",
    '{"messages": [{"role": 1, "content": "a"}]}': "turn 0 field 'role' must be text, got number",
    '{"messages": [{"role": "user", "content": {"a": 1}}]}':
        "turn 0 field 'content' must be text or a list of text parts, got object",
    '{"messages": ["hello"]}': "turn 0 must be an object, got text",
    '{"messages": "hello"}': "field 'messages' must be a list of turns, got text",
    '{"id": "x"}': "no turns found (looked for: messages, conversations, dialog, turns)",
    '"hello"': "expected a JSON object, got text",
    "[1, 2]": "expected a JSON object, got list",
    '{"messages": [}': "not valid JSON (Expecting value at column 15)",
    '{"messages": [': "not valid JSON (Expecting value at column 15)",
    '{"messages": [], "x": NaN}': "not valid JSON (NaN is not a JSON value)",
    '{"messages": [], "x": 1e400}': "not valid JSON (number 1e400 is out of range)",
    '{"messages": [], "x": ' + "1" * 5000 + "}":
        "not valid JSON (Exceeds the limit (4300 digits) for integer string conversion: value has "
        "5000 digits; use sys.set_int_max_str_digits() to increase the limit)",
    "[" * 100_000 + "]" * 100_000: "not valid JSON (nested too deeply)",
}


@pytest.mark.parametrize("bad", BAD_LINES, ids=range(len(BAD_LINES)))
def test_malformed_line_message_is_exact(score_cli, in_tmp, bad):
    name = log_with_bad_line_17(in_tmp / "logs.jsonl", bad)
    result = score_cli(name, "-o", "out.jsonl")
    assert result.exit_code == 3
    assert result.stderr == f"error: logs.jsonl:17: {BAD_LINES[bad]}\n"


def test_invalid_utf8_line(score_cli, in_tmp):
    (in_tmp / "logs.jsonl").write_bytes((GOOD + "\n").encode() * 2 + b'{"id": "\xff"}\n')
    result = score_cli("logs.jsonl")
    assert (result.exit_code, result.stderr) == (3, "error: logs.jsonl:3: not valid UTF-8 (byte 9)\n")


@pytest.mark.parametrize("flags, message", [
    (["--format", "sharegpt"], "logs.jsonl:1: no 'conversations' field, which --format sharegpt expects"),
    (["--id-key", "conv"], "logs.jsonl:1: no usable 'conv' field (given by --id-key)"),
    (["--turns-key", "utt"], "logs.jsonl:1: no 'utt' field (given by --turns-key)"),
    (["--role-key", "who"], "logs.jsonl:1: turn 0 has no role field (looked for: who)"),
    (["--text-key", "said"], "logs.jsonl:1: turn 0 has no text field (looked for: said)"),
])
def test_override_flags_name_what_is_missing(score_cli, in_tmp, flags, message):
    (in_tmp / "logs.jsonl").write_text(GOOD + "\n")
    result = score_cli("logs.jsonl", *flags)
    assert (result.exit_code, result.stderr) == (3, f"error: {message}\n")


def test_whole_file_json_errors(score_cli, in_tmp):
    (in_tmp / "logs.json").write_text('[\n  {"messages": []},\n  {"messages": [}\n]')
    result = score_cli("logs.json")
    assert (result.exit_code, result.stderr) == (
        3, "error: logs.json: not valid JSON (Expecting value at line 3 column 17)\n")
    (in_tmp / "logs.json").write_text('[{"messages": []}, 7]')
    result = score_cli("logs.json")
    assert (result.exit_code, result.stderr) == (3, "error: logs.json:2: expected a JSON object, got number\n")


def test_emh_csv_errors(score_cli, in_tmp):
    (in_tmp / "pairs.csv").write_text("post,reply\nhi,there\n")
    result = score_cli("pairs.csv")
    assert (result.exit_code, result.stderr) == (
        3, "error: pairs.csv:1: missing column(s) seeker_post, response_post "
           "(EMH/EPITOME CSV needs seeker_post, response_post)\n")
    (in_tmp / "pairs.csv").write_bytes(b"seeker_post,response_post\nhi,there\nonly one\nok,\xff\xfe\n")
    result = score_cli("pairs.csv")
    assert (result.exit_code, result.stderr) == (3, "error: pairs.csv:3: row has too few columns\n")
    result = score_cli("pairs.csv", "-o", "s.json", "--on-error", "skip")
    assert result.exit_code == 0
    summary = json.loads((in_tmp / "s.json").read_text())
    assert summary["skipped_record_errors"] == ["pairs.csv:3: row has too few columns",
                                                "pairs.csv:4: not valid UTF-8 (byte 4)"]
    assert summary["counts"]["records_read"] == 3
    assert summary["counts"]["records_skipped"] == {"malformed_record": 2}


def test_on_error_skip_skips_and_counts(score_cli, in_tmp):
    bad = ['{"messages": [{"role": "assistant"}]}', "not json", '"text"']
    lines = [GOOD, bad[0], GOOD, bad[1], "", bad[2], '{"id": "d", "messages": []}', '{"id": "d", "messages": []}']
    (in_tmp / "logs.jsonl").write_text("\n".join(lines) + "\n")
    assert score_cli("logs.jsonl").exit_code == 3
    result = score_cli("logs.jsonl", "--on-error", "skip", "-o", "out.jsonl", "-o", "s.json")
    assert result.exit_code == 0, result.output
    summary = json.loads((in_tmp / "s.json").read_text())
    assert summary["counts"]["records_read"] == 7
    assert summary["counts"]["records_skipped"] == {"malformed_record": 3, "duplicate_dialogue_id": 1}
    assert summary["skipped_record_errors"] == [
        "logs.jsonl:2: turn 0 has no text field (looked for: content, text, value, utterance)",
        "logs.jsonl:4: not valid JSON (Expecting value at column 1)",
        "logs.jsonl:6: expected a JSON object, got text"]
    assert [r["dialogue_id"] for r in map(json.loads, (in_tmp / "out.jsonl").read_text().splitlines())] == \
        ["logs.jsonl:1", "logs.jsonl:3"]


def test_duplicate_dialogue_id_is_an_error(score_cli, in_tmp):
    (in_tmp / "logs.jsonl").write_text('{"id": "a", "messages": []}\n{"id": "a", "messages": []}\n')
    result = score_cli("logs.jsonl")
    assert (result.exit_code, result.stderr) == (
        3, "error: logs.jsonl:2: duplicate dialogue id 'a' (first seen at logs.jsonl:1)\n")


@pytest.mark.parametrize("args, message", [
    (["logs.jsonl", "-o", "out.txt"], "error: -o out.txt: unknown output format for score "
     "(use .jsonl, .csv, .json, .junit.xml, .html or .md)\n"),
    (["logs.jsonl", "--resume", "-o", "a.jsonl", "-o", "b.jsonl"],
     "error: --resume needs exactly one per-turn .jsonl output (-o turns.jsonl); got 2\n"),
    (["logs.jsonl", "--resume"], "error: --resume needs exactly one per-turn .jsonl output (-o turns.jsonl); got 0\n"),
])
def test_usage_errors_exit_2(score_cli, in_tmp, args, message):
    (in_tmp / "logs.jsonl").write_text(GOOD + "\n")
    result = score_cli(*args)
    assert (result.exit_code, result.stderr) == (2, message)


@pytest.mark.parametrize("args", [["--bogus"], ["--format", "yaml"], ["--batch-size", "many"],
                                  ["--on-error", "ignore"]])
def test_click_usage_errors_exit_2(score_cli, in_tmp, args):
    (in_tmp / "logs.jsonl").write_text(GOOD + "\n")
    result = score_cli("logs.jsonl", *args)
    assert result.exit_code == 2
    assert "Usage:" in result.stderr


def test_missing_input_and_folder_input_exit_3(score_cli, in_tmp):
    result = score_cli("nope.jsonl")
    assert (result.exit_code, result.stderr) == (3, "error: nope.jsonl: cannot open: No such file or directory\n")
    (in_tmp / "logs").mkdir()
    result = score_cli("logs")
    assert (result.exit_code, result.stderr) == (3, "error: logs: is a folder, expected a file (JSONL, JSON or CSV)\n")


def test_model_errors_exit_4(score_cli, in_tmp):
    (in_tmp / "logs.jsonl").write_text(GOOD + "\n")
    result = score_cli("logs.jsonl", model=in_tmp / "no-such-model")
    assert result.exit_code == 4
    assert result.stderr.startswith(f"error: model '{in_tmp / 'no-such-model'}' not found: give a bundle folder")
    (in_tmp / "empty").mkdir()
    result = score_cli("logs.jsonl", model=in_tmp / "empty")
    assert (result.exit_code, result.stderr) == (4, f"error: {in_tmp / 'empty'}: not a model bundle (no manifest.json)\n")


def test_lone_surrogates_and_controls_never_reach_the_output(score_cli, in_tmp):
    """JSON may hold lone surrogates (not encodable as UTF-8): in ids, roles, text and gold labels
    they become '?' instead of crashing the writers (in ids their escape, `\\ud800`: two ids must stay
    two); NUL and RTL marks pass through as text."""
    line = ('{"id": "x\\ud800", "messages": [{"role": "user", "content": "hi \\ud800 \\u0000"},'
            '{"role": "assistant\\udfff", "content": "ok"},'
            '{"role": "assistant", "content": "ok \\u202e rtl \\ud83d\\ude00", "strategy": ["\\udc00"]}]}')
    (in_tmp / "logs.jsonl").write_text(line + "\n")
    result = score_cli("logs.jsonl", "-o", "out.jsonl", "-o", "out.csv")
    assert result.exit_code == 0, result.output
    record = json.loads((in_tmp / "out.jsonl").read_text(encoding="utf-8"))
    assert (record["dialogue_id"], record["turn_index"], record["gold"]) == ("x\\ud800", 2, {"strategy": ["?"]})
    assert (in_tmp / "out.csv").read_text(encoding="utf-8").splitlines()[1].startswith("x\\ud800,2,assistant,")
