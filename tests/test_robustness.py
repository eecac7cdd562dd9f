"""Issue 21, tried as a hostile and as a new user would: nothing is destroyed, gates fail closed, and
every failure is one line on stderr with its documented exit code (2 usage, 3 bad input, 4 model,
runtime or output, 130 interrupted). Real CLI runs (click's runner or a subprocess), real files,
real ONNX Runtime sessions; the broken graphs come from tests/fixtures/build_broken_graphs.py."""
import json
import os
import shutil
import signal
import subprocess
import sys
import time

import pytest

from conftest import FIXTURES, REPO, with_default_sigint
from empathy_metric.bundle import write_manifest

pytestmark = pytest.mark.scoring

GOOD = '{"id": "a", "messages": [{"role": "user", "content": "i feel so sad"}, {"role": "assistant", "content": "i am sorry ."}]}\n'
SHORT_REPLY = '{"id": "b", "messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "ok"}]}\n'


@pytest.fixture
def in_tmp(tmp_path, monkeypatch):
    """Run in tmp_path, so that messages name files as given."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "in.jsonl").write_text("".join(GOOD.replace('"a"', f'"a{i}"') for i in range(3)) + SHORT_REPLY)
    return tmp_path


def cli_process(*args, stdin=None, stdout=subprocess.PIPE, shell_redirect="", cwd=None):
    """`empathy-score ARGS` in a real process; `shell_redirect` (e.g. `>&-`) is applied by bash."""
    command = " ".join([f"'{sys.executable}'", "-m", "empathy_metric.cli.main", *(f"'{a}'" for a in args)])
    return subprocess.run(["bash", "-c", f"exec {command} {shell_redirect}"], input=stdin, stdout=stdout,
                          stderr=subprocess.PIPE, text=True, cwd=cwd or REPO, timeout=300)


# ---- 1. an output path never destroys an input; bad paths are refused before any work (exit 2) ----

def _spell(tmp_path, name, how):
    if how == "as given":
        return name
    if how == "./":
        return f"./{name}"
    if how == "absolute":
        return str(tmp_path / name)
    link = tmp_path / f"other{(tmp_path / name).suffix}"
    if how == "symlink":
        link.symlink_to(tmp_path / name)
    else:
        os.link(tmp_path / name, link)
    return link.name


@pytest.mark.parametrize("how", ["as given", "./", "absolute", "symlink", "hardlink"])
@pytest.mark.parametrize("name, content", [
    ("in.jsonl", GOOD),
    ("in.csv", "seeker_post,response_post\ni feel sad,i am sorry .\n"),
    ("in.json", "[" + GOOD.strip() + "]\n"),
])
def test_an_output_naming_the_input_is_refused_and_the_input_kept(score_cli, in_tmp, name, content, how):
    (in_tmp / name).write_text(content)
    output = _spell(in_tmp, name, how)
    result = score_cli(name, "-o", output)
    assert (result.exit_code, result.stderr) == (
        2, f"error: -o {output}: is the input {name}; writing it would destroy the input\n")
    assert (in_tmp / name).read_text() == content


@pytest.mark.parametrize("output, message", [
    ("nodir/t.jsonl", "-o nodir/t.jsonl: folder nodir does not exist"),
    ("in.jsonl/t.json", "-o in.jsonl/t.json: in.jsonl is not a folder"),
    ("folder.json", "-o folder.json: is a folder; give a file name (a folder takes per-turn shards, written by "
                    "score --engine ray)"),
    ("shards/", "-o shards/: is a folder; give a file name (a folder takes per-turn shards, written by score "
                "--engine ray)"),
    ("t.txt", "-o t.txt: unknown output format for score (use .jsonl, .csv, .json, .junit.xml, .html or .md)"),
    ("s.json", "-o s.json: names the same file as -o ./s.json"),
])
def test_bad_output_paths_are_refused_before_any_work(score_cli, in_tmp, output, message):
    (in_tmp / "folder.json").mkdir()
    before = sorted(p.name for p in in_tmp.iterdir())
    result = score_cli("in.jsonl", "-o", "t.csv", "-o", "./s.json" if output == "s.json" else "ok.json",
                       "-o", output)
    assert (result.exit_code, result.stderr) == (2, f"error: {message}\n")
    assert sorted(p.name for p in in_tmp.iterdir()) == before          # not even the .csv was begun


def test_an_output_in_a_folder_that_cannot_be_written_is_refused(score_cli, in_tmp):
    folder = in_tmp / "locked"
    folder.mkdir()
    folder.chmod(0o555)
    try:
        (folder / "probe").touch()            # root writes anyway: use a kernel folder instead
        folder = "/sys"
    except PermissionError:
        pass
    finally:
        (in_tmp / "locked").chmod(0o755)
    if folder == "/sys" and os.access("/sys", os.W_OK) and not os.path.ismount("/sys"):
        pytest.skip("no folder here refuses writes")
    result = score_cli("in.jsonl", "-o", f"{folder}/s.json")
    assert (result.exit_code, result.stderr) == (
        2, f"error: -o {folder}/s.json: cannot write in {folder} (read-only or no permission)\n")


def test_compare_checks_its_outputs_too(score_cli, in_tmp):
    result = score_cli("compare", "in.jsonl", "in.jsonl", "-o", "nodir/c.json")
    assert (result.exit_code, result.stderr) == (2, "error: -o nodir/c.json: folder nodir does not exist\n")


def test_a_full_disk_is_an_output_error_and_leaves_no_temporary_file(in_tmp, tiny_bundle):
    """/dev/full refuses every write with ENOSPC: stdout on it. (An output linked to it is refused
    before any work: outputs are replaced, never written through a link; a full disk under an
    output file: test_an_atomic_write_that_fails_leaves_the_old_file_and_no_temporary_file.)"""
    (in_tmp / "turns.jsonl").symlink_to("/dev/full")
    done = cli_process("in.jsonl", "-m", tiny_bundle, "-q", "-o", "turns.jsonl", cwd=in_tmp)
    assert (done.returncode, done.stderr) == (2, "error: -o turns.jsonl: turns.jsonl is a symbolic link; give the "
                                                 "real path (outputs are replaced, never written through a link)\n")
    done = cli_process("in.jsonl", "-m", tiny_bundle, shell_redirect=">/dev/full", cwd=in_tmp)
    assert (done.returncode, done.stderr) == (4, "error: cannot write to stdout (No space left on device)\n")


def test_an_atomic_write_that_fails_leaves_the_old_file_and_no_temporary_file(tmp_path):
    from empathy_metric.errors import OutputError
    from empathy_metric.io.writers import write_atomically
    target = tmp_path / "s.json"
    target.write_text("old")

    def half_then_full_disk(handle):
        handle.write(b"{")
        raise OSError(28, "No space left on device")
    with pytest.raises(OutputError, match=r"s.json: cannot write \(No space left on device\)"):
        write_atomically(str(target), half_then_full_disk)
    assert [p.name for p in tmp_path.iterdir()] == ["s.json"] and target.read_text() == "old"


# ---- 2. non-finite model outputs are a model error; gates fail closed on a non-finite value ------

def bundle_with(tmp_path, tiny_bundle, graph=None, tokenizer=None):
    """A copy of the tiny bundle with another graph (from tests/fixtures/broken-graphs) or
    tokenizer, re-signed so that it loads."""
    folder = shutil.copytree(tiny_bundle, tmp_path / "bundle")
    if graph:
        shutil.copy(FIXTURES / "broken-graphs" / graph, folder / "model.onnx")
    if tokenizer:
        tokenizer.save(str(folder / "tokenizer.json"))
    write_manifest(folder, json.loads((folder / "manifest.json").read_text()))
    return folder


def test_a_model_emitting_nan_is_a_model_error_naming_the_output_and_window(score_cli, in_tmp, tiny_bundle):
    """nan.onnx gives NaN for scored turns under 3 tokens: dialogue b's reply "ok" is the first."""
    bundle = bundle_with(in_tmp, tiny_bundle, "nan.onnx")
    result = score_cli("in.jsonl", "-o", "s.json", "--fail-under", "perceived.empathy=0.5", model=bundle)
    assert (result.exit_code, result.stderr) == (
        4, "error: the model's 'perceived' output is not finite (NaN or infinite) for 1 of 4 windows; "
           "the first is dialogue 'b' turn 1\n")
    assert not (in_tmp / "s.json").exists()


def test_a_gate_on_a_non_finite_estimate_fails():
    from empathy_metric.reporting.gating import Estimate, GatePlan, threshold_gates
    plan = GatePlan(tuple(threshold_gates(("perceived.empathy=0.5",), ("perceived.helpfulness=0.5",))),
                    gate_on="ci")
    nan = float("nan")
    evaluation = plan.evaluate({"perceived.empathy": Estimate(nan, nan, nan, 10),
                                "perceived.helpfulness": Estimate(0.1, 0.0, float("inf"), 10)})
    assert not evaluation.passed and [r.passed for r in evaluation.results] == [False, False]
    assert evaluation.results[0].line() == ("FAIL perceived.empathy ci_low=nan is not a finite number "
                                            "(mean nan, n=10 dialogues) [--fail-under perceived.empathy=0.5]")
    json.dumps(evaluation.to_list(), allow_nan=False)               # no NaN/Infinity reaches a file


@pytest.mark.parametrize("graph, message", [
    ("no-perceived.onnx", "graph lacks output(s) perceived"),
    ("narrow.onnx", "error: the model's 'logits.esconv_strategy' output has shape (4, 7); expected (4, 8): "
                    "one row per window, one column per label\n"),
])
def test_a_graph_without_an_output_or_with_wrong_widths_is_a_model_error(score_cli, in_tmp, tiny_bundle,
                                                                          graph, message):
    result = score_cli("in.jsonl", model=bundle_with(in_tmp, tiny_bundle, graph))
    assert result.exit_code == 4 and len(result.stderr.splitlines()) == 1
    assert message in result.stderr


def test_a_tokenizer_beyond_the_embedding_table_is_a_model_error(score_cli, in_tmp, tiny_bundle):
    """An ONNX Runtime failure while scoring (here Gather's index check) is exit 4, in one line."""
    from tokenizers import Tokenizer
    tokenizer = Tokenizer.from_file(str(tiny_bundle / "tokenizer.json"))
    tokenizer.add_tokens(["zzyzx"])                        # an id the tiny model's embeddings lack
    (in_tmp / "in.jsonl").write_text(GOOD.replace("i am sorry", "zzyzx"))
    result = score_cli("in.jsonl", model=bundle_with(in_tmp, tiny_bundle, tokenizer=tokenizer))
    assert result.exit_code == 4 and len(result.stderr.splitlines()) == 1
    assert result.stderr.startswith(f"error: {in_tmp / 'bundle' / 'model.onnx'}: ONNX Runtime failed while scoring (")


def test_a_tokenizer_without_cls_is_a_model_error(score_cli, in_tmp, tiny_bundle):
    from tokenizers import Tokenizer, models, pre_tokenizers
    tokenizer = Tokenizer(models.WordLevel({"[UNK]": 0, "[PAD]": 1, "sorry": 2}, unk_token="[UNK]"))
    tokenizer.pre_tokenizer = pre_tokenizers.Whitespace()
    result = score_cli("in.jsonl", model=bundle_with(in_tmp, tiny_bundle, tokenizer=tokenizer))
    assert (result.exit_code, result.stderr) == (
        4, "error: the tokenizer has no [CLS] and [SEP] (or <s> and </s>) tokens, which start and end every "
           "window\n")


# ---- 3. one mapping of every failure to its code; no traceback ----------------------------------

def test_stdin_or_stdout_closed(tiny_bundle, in_tmp):
    done = cli_process("-", "-m", tiny_bundle, shell_redirect="<&-")
    assert (done.returncode, done.stderr) == (3, "error: <stdin>: cannot read: stdin is closed\n")
    done = cli_process("in.jsonl", "-m", tiny_bundle, shell_redirect=">&-", stdout=None, cwd=in_tmp)
    assert (done.returncode, done.stderr) == (
        4, "error: stdout is closed, so the table cannot be shown; write it to a file with -o, or pass --quiet\n")
    done = cli_process("in.jsonl", "-m", tiny_bundle, "-q", "-o", "s.json", shell_redirect=">&-", stdout=None,
                       cwd=in_tmp)
    assert (done.returncode, done.stderr) == (0, "")                  # nothing was meant for stdout


def test_a_reader_that_goes_away_ends_the_run_quietly(tiny_bundle):
    """`empathy-score metrics | head -1`, with the reader gone before the first write."""
    process = subprocess.Popen([sys.executable, "-m", "empathy_metric.cli.main", "metrics", "-m", str(tiny_bundle)],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=REPO)
    process.stdout.close()
    stderr = process.stderr.read().decode()
    assert (process.wait(timeout=120), stderr) == (4, "")


def test_debug_shows_the_traceback(score_cli, in_tmp):
    (in_tmp / "bad.jsonl").write_text('{"messages": [\n')
    result = score_cli("bad.jsonl", "--debug")
    assert result.exit_code == 3
    assert "Traceback (most recent call last)" in result.stderr
    assert result.stderr.endswith("error: bad.jsonl:1: not valid JSON (Expecting value at column 15)\n")


def test_ctrl_c_exits_130_and_leaves_a_resumable_output(score_cli, tmp_path, tiny_bundle):
    """A real SIGINT mid-run: exit 130, one line, every line written is whole, and --resume then gives
    the bytes of an uninterrupted run."""
    from test_resume import make_logs
    logs = make_logs(tmp_path / "logs.jsonl", 2000, seed=2)
    full, part = tmp_path / "full.jsonl", tmp_path / "part.jsonl"
    assert score_cli(logs, "-o", full).exit_code == 0
    process = subprocess.Popen([sys.executable, "-m", "empathy_metric.cli.main", str(logs), "-m", str(tiny_bundle),
                                "-q", "-o", str(part)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=REPO,
                               preexec_fn=with_default_sigint)
    deadline = time.monotonic() + 300
    partial = tmp_path / "part.jsonl.partial"        # the output itself appears only when the run succeeds
    while not (partial.exists() and partial.stat().st_size > full.stat().st_size // 5) and process.poll() is None:
        assert time.monotonic() < deadline, "the run wrote nothing"
        time.sleep(0.005)
    assert process.poll() is None, "the run ended before it could be interrupted"
    process.send_signal(signal.SIGINT)
    code = process.wait(timeout=120)
    assert (code, process.stderr.read().decode().strip()) == (130, "interrupted")
    written = partial.read_text().splitlines()
    assert 0 < len(written) < len(full.read_text().splitlines()) and not part.exists()
    assert all(isinstance(json.loads(line), dict) for line in written)
    assert score_cli(logs, "-o", part, "--resume").exit_code == 0
    assert part.read_bytes() == full.read_bytes()


@pytest.mark.parametrize("option", ["--batch-size", "--threads", "--max-batch-tokens", "--workers"])
@pytest.mark.parametrize("value", ["0", "-1"])
def test_numeric_options_must_be_at_least_1(score_cli, in_tmp, option, value):
    for command in (["score", "in.jsonl"], ["compare", "in.jsonl", "in.jsonl"]):
        result = score_cli(*command, option, value)
        assert result.exit_code == 2
        assert f"Invalid value for '{option}': {value} is not in the range x>=1." in result.stderr


def test_a_misspelt_command_gets_a_suggestion(score_cli, in_tmp):
    result = score_cli("scor", "in.jsonl")
    assert result.exit_code == 2
    assert result.stderr.splitlines()[-1] == "Error: no command or file 'scor'; did you mean `empathy-score score`?"


# ---- 5. a huge turn is cut before it is tokenised ------------------------------------------------

def test_a_20_mb_turn_is_scored_in_bounded_memory(tmp_path, tiny_bundle):
    """Tokenising a 20 MB turn whole took 3.0 GB; only its ends can reach a window."""
    words = ("i am sorry to hear that , it sounds really hard . " * 400_000)[:20_000_000]
    record = {"id": "huge", "messages": [{"role": "user", "content": "help"},
                                         {"role": "assistant", "content": words}]}
    (tmp_path / "huge.jsonl").write_text(json.dumps(record) + "\n")
    if not os.path.exists("/proc/self/status"):
        pytest.skip("peak RSS is read from /proc (Linux)")
    # VmHWM, the peak RSS of this process image: getrusage's ru_maxrss would carry over pytest's own
    # peak through fork and exec.
    code = ("import sys; from empathy_metric.cli.main import main\n"
            "try:\n    main(sys.argv[1:])\nexcept SystemExit as e:\n    code = e.code\n"
            "peak = next(l for l in open('/proc/self/status') if l.startswith('VmHWM:')).split()[1]\n"
            "print(code, int(peak) // 1024)")
    done = subprocess.run([sys.executable, "-c", code, str(tmp_path / "huge.jsonl"), "-m", str(tiny_bundle), "-q",
                           "-o", str(tmp_path / "t.jsonl")], capture_output=True, text=True, cwd=REPO, timeout=300)
    status, peak_mib = done.stdout.split()
    assert status == "0", done.stderr
    assert int(peak_mib) < 300
    assert json.loads((tmp_path / "t.jsonl").read_text())["truncated"] is True


# ---- 6. smaller cases -----------------------------------------------------------------------------

def summary_of(score_cli, path, *flags):
    result = score_cli(path, "-o", "s.json", *flags)
    assert result.exit_code == 0, result.output
    return json.loads(open("s.json").read()), result


def test_a_record_without_turns_is_counted(score_cli, in_tmp):
    (in_tmp / "in.jsonl").write_text(GOOD + '{"id": "z", "messages": []}\n')
    summary, _ = summary_of(score_cli, "in.jsonl")
    assert summary["counts"]["records_read"] == 2
    assert summary["counts"]["dialogues_scored"] == 1
    assert summary["counts"]["dialogues_skipped"] == {"no_turns": 1}


@pytest.mark.parametrize("value, got", [("1.0", "1.0"), ("true", "true"), ('{"a": 1}', "object"),
                                        ("[1]", "list")])
def test_ids_must_be_text_or_integers(score_cli, in_tmp, value, got):
    (in_tmp / "in.jsonl").write_text(GOOD.replace('"id": "a"', f'"id": {value}'))
    result = score_cli("in.jsonl")
    assert (result.exit_code, result.stderr) == (
        3, f"error: in.jsonl:1: field 'id' (the dialogue id) must be text or an integer, got {got}\n")
    summary, _ = summary_of(score_cli, "in.jsonl", "--on-error", "skip")
    assert summary["counts"]["records_skipped"] == {"malformed_record": 1}


def test_integer_and_null_ids(score_cli, in_tmp):
    (in_tmp / "in.jsonl").write_text(GOOD.replace('"id": "a"', '"id": 7') + GOOD.replace('"id": "a"', '"id": null'))
    summary, _ = summary_of(score_cli, "in.jsonl")
    assert [d["dialogue_id"] for d in summary["dialogues"]] == ["7", "in.jsonl:2"]


def test_roles_match_without_case_or_spaces_and_unscored_roles_are_named(score_cli, in_tmp):
    def dialogue(i, role):
        return json.dumps({"id": f"d{i}", "messages": [{"role": "user", "content": "i feel sad"},
                                                       {"role": role, "content": "i am sorry ."}]}) + "\n"
    roles = ["model", "Assistant", "assistant ", " ASSISTANT\t", "AI"]
    (in_tmp / "in.jsonl").write_text("".join(dialogue(i, r) for i, r in enumerate(roles)))
    result = score_cli("in.jsonl", "-o", "s.json", quiet=False)
    assert result.exit_code == 0
    summary = json.loads((in_tmp / "s.json").read_text())
    assert [d["dialogue_id"] for d in summary["dialogues"]] == ["d0", "d1", "d2", "d3"]
    assert summary["counts"]["roles_not_scored"] == {"user": 5, "AI": 1}
    assert summary["counts"]["dialogues_skipped"] == {"no_agent_turn": 1}
    assert ("warning: 1 dialogue(s) have no agent turn, so nothing in them was scored; turns of roles not "
            "scored: AI 1, user 5. --agent-role ROLE scores a role.") in result.stderr.splitlines()
    assert score_cli("in.jsonl", "-o", "s.json", "--agent-role", " ai ").exit_code == 0
    assert [d["dialogue_id"] for d in json.loads((in_tmp / "s.json").read_text())["dialogues"]] == ["d4"]


def test_an_empty_input_is_an_error_unless_allowed(score_cli, in_tmp):
    (in_tmp / "empty.jsonl").write_text("\n\n")
    result = score_cli("empty.jsonl")
    assert (result.exit_code, result.stderr) == (
        3, "error: empty.jsonl: no records: the input is empty (--allow-empty accepts that)\n")
    result = score_cli("-", input="")
    assert (result.exit_code, result.stderr) == (
        3, "error: <stdin>: no records: the input is empty (--allow-empty accepts that)\n")
    assert score_cli("empty.jsonl", "--allow-empty").exit_code == 0


def test_csv_cells_never_start_a_formula(score_cli, in_tmp):
    ids = ["=HYPERLINK(\"http://x\")", "+1", "-1", "@SUM(A1)", "\tx", "\rx", "plain"]
    (in_tmp / "in.jsonl").write_text("".join(GOOD.replace('"id": "a"', f'"id": {json.dumps(i)}') for i in ids))
    assert score_cli("in.jsonl", "-o", "t.csv", "-o", "t.jsonl").exit_code == 0
    import csv
    with open(in_tmp / "t.csv", newline="", encoding="utf-8") as handle:
        cells = [row[0] for row in csv.reader(handle)][1:]
    assert cells == ["'" + i for i in ids[:-1]] + ["plain"]
    assert [json.loads(line)["dialogue_id"] for line in (in_tmp / "t.jsonl").read_text().splitlines()] == ids


def test_json_error_messages_say_at_once(score_cli, in_tmp):
    (in_tmp / "in.jsonl").write_text('{"a": "unterminated\n')
    result = score_cli("in.jsonl")
    assert result.stderr == "error: in.jsonl:1: not valid JSON (Unterminated string starting at column 7)\n"


def test_skipped_turns_are_reported_with_their_reason(score_cli, in_tmp):
    (in_tmp / "in.jsonl").write_text(GOOD.replace('{"role": "user"', '{"role": "system", "content": "x"}, {"role": "user"'))
    result = score_cli("in.jsonl", "-o", "s.json", quiet=False)
    assert "1 turn skipped (non_dialogue_role 1)" in result.stderr


def test_evaluate_contexts_name_the_bad_element_and_clean_surrogates():
    from empathy_metric.api import context_list, prediction_text
    from empathy_metric.errors import InputError
    with pytest.raises(InputError, match=r"^contexts\[2\]\[1\] must be a string, got null$"):
        context_list(["a", None], 2)
    assert context_list(["a \ud800"], 0) == ["a ?"]
    assert prediction_text("b \udfff", 0) == "b ?"
