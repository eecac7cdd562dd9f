"""`--resume`: an interrupted run continued gives, record for record, the output of an uninterrupted
run; resuming output made with another model, settings or input is refused."""
import json
import random
import signal
import subprocess
import sys
import time

import pytest

pytestmark = pytest.mark.scoring

WORDS = "i am sorry to hear that it sounds hard what happened you are doing great try a friend help".split()


def make_logs(path, n, seed=0):
    rng = random.Random(seed)
    with open(path, "w", encoding="utf-8") as handle:
        for i in range(n):
            messages = [{"role": "assistant" if k % 2 else "user",
                         "content": " ".join(rng.choice(WORDS) for _ in range(rng.randint(1, 12)))}
                        for k in range(rng.randint(1, 5))]
            handle.write(json.dumps({"id": f"d{i}", "messages": messages}) + "\n")
    return path


def counts_without_resume(summary):
    counts = dict(summary["counts"])
    return {k: v for k, v in counts.items() if k not in ("dialogues_resumed", "turns_resumed")}


@pytest.fixture(scope="module")
def small_run(tmp_path_factory, tiny_bundle):
    """60 dialogues scored without interruption: the reference outputs."""
    from click.testing import CliRunner

    from empathy_metric.cli.main import cli
    folder = tmp_path_factory.mktemp("resume")
    logs = make_logs(folder / "logs.jsonl", 60)
    out = {k: folder / f"full.{k}" for k in ("jsonl", "csv", "json")}
    result = CliRunner().invoke(cli, [str(logs), "-m", str(tiny_bundle), "-q", *sum((["-o", str(p)] for p in out.values()), [])])
    assert result.exit_code == 0, result.output
    return logs, out


def interrupted_copy(tmp_path, small_run, cut_at: int):
    """The reference output cut at byte `cut_at`, with the sidecar the run wrote."""
    _, full = small_run
    part = tmp_path / "part.jsonl"
    part.write_bytes(full["jsonl"].read_bytes()[:cut_at])
    (tmp_path / "part.jsonl.run.json").write_text(
        (full["jsonl"].parent / "full.jsonl.run.json").read_text())
    return part


def test_sidecar_describes_the_run(small_run, tiny_bundle):
    logs, full = small_run
    side = json.loads((full["jsonl"].parent / "full.jsonl.run.json").read_text())
    assert side["signature"]["model"] == "tiny-test" and side["inputs"] == [str(logs)]
    assert side["settings"]["window"]["turns_after"] == 3
    assert side["reader"] == {"format": "auto", "turns_key": None, "role_key": None, "text_key": None, "id_key": None}


@pytest.mark.parametrize("where", ["mid_line", "between_lines", "end"])
def test_resume_after_a_cut_gives_the_uninterrupted_output(score_cli, tmp_path, small_run, where):
    logs, full = small_run
    data = full["jsonl"].read_bytes()
    line_ends = [i + 1 for i, b in enumerate(data) if b == ord("\n")]
    cut = {"mid_line": line_ends[40] + 25, "between_lines": line_ends[41], "end": len(data)}[where]
    part = interrupted_copy(tmp_path, small_run, cut)
    summary, table = tmp_path / "part.json", tmp_path / "part.csv"
    result = score_cli(logs, "-o", part, "-o", summary, "-o", table, "--resume")
    assert result.exit_code == 0, result.output
    assert part.read_bytes() == data
    assert table.read_bytes() == full["csv"].read_bytes()          # other outputs cover all dialogues
    resumed, reference = json.loads(summary.read_text()), json.loads(full["json"].read_text())
    assert counts_without_resume(resumed) == counts_without_resume(reference)
    assert resumed["corpus"] == reference["corpus"] and resumed["dialogues"] == reference["dialogues"]
    # Every whole dialogue before the cut is taken back, except the last one (it may be cut).
    kept = data[:cut][:data[:cut].rfind(b"\n") + 1].decode().splitlines()
    ids = list(dict.fromkeys(json.loads(line)["dialogue_id"] for line in kept))
    assert resumed["counts"]["dialogues_resumed"] == len(ids) - 1
    assert resumed["counts"]["turns_resumed"] == sum(json.loads(line)["dialogue_id"] in ids[:-1] for line in kept)


def test_resume_without_earlier_output_is_a_fresh_run(score_cli, tmp_path, small_run):
    logs, full = small_run
    out = tmp_path / "new.jsonl"
    assert score_cli(logs, "-o", out, "--resume").exit_code == 0
    assert out.read_bytes() == full["jsonl"].read_bytes()


@pytest.mark.parametrize("flags, differs", [
    (["--no-future-context"], "settings.window"),
    (["--agent-role", "user"], "settings.agent_roles"),
    (["--format", "openai"], "reader.format"),
])
def test_resume_with_other_settings_is_refused(score_cli, tmp_path, small_run, flags, differs):
    logs, full = small_run
    part = interrupted_copy(tmp_path, small_run, 5000)
    before = part.read_bytes()
    result = score_cli(logs, "-o", part, "--resume", *flags)
    assert result.exit_code == 2
    assert result.stderr.startswith(f"error: cannot resume {part}: it was made with another model, "
                                    f"settings or input (differs: {differs}")
    assert part.read_bytes() == before                              # refused before touching it


def test_resume_with_another_model_or_input_is_refused(score_cli, tmp_path, small_run, tiny_int8_bundle):
    logs, _ = small_run
    part = interrupted_copy(tmp_path, small_run, 5000)
    result = score_cli(logs, "-o", part, "--resume", model=tiny_int8_bundle)
    assert result.exit_code == 2 and "differs: signature.manifest_sha256" in result.stderr
    other = tmp_path / "other.jsonl"
    other.write_bytes(logs.read_bytes())
    result = score_cli(other, "-o", part, "--resume")
    assert result.exit_code == 2 and "differs: inputs)" in result.stderr


def test_resume_needs_the_sidecar(score_cli, tmp_path, small_run):
    logs, _ = small_run
    part = interrupted_copy(tmp_path, small_run, 5000)
    (tmp_path / "part.jsonl.run.json").unlink()
    result = score_cli(logs, "-o", part, "--resume")
    assert (result.exit_code, result.stderr) == (
        2, f"error: cannot resume {part}: {part}.run.json is missing, so what made the output is unknown; "
           "run again without --resume\n")


def test_resume_refuses_a_damaged_output(score_cli, tmp_path, small_run):
    logs, _ = small_run
    part = interrupted_copy(tmp_path, small_run, 8000)
    lines = part.read_bytes().split(b"\n")
    lines[3] = b'{"dialogue_id": "d1", "broken'
    part.write_bytes(b"\n".join(lines))
    result = score_cli(logs, "-o", part, "--resume")
    assert (result.exit_code, result.stderr) == (
        3, f"error: {part}:4: not valid JSON; this file is not intact output of empathy-score, so it "
           "cannot be resumed (run again without --resume)\n")


def test_resume_notices_records_that_do_not_match_the_input(score_cli, tmp_path, small_run):
    """The sidecar is made to describe the changed input (as if edited by hand): the records read
    back still have to be those of the input's agent turns."""
    from empathy_metric.bundle import sha256_of
    logs, full = small_run
    part = interrupted_copy(tmp_path, small_run, len(full["jsonl"].read_bytes()))
    changed = [json.loads(line) for line in logs.read_text().splitlines()]
    first = json.loads(full["jsonl"].read_text().splitlines()[0])["dialogue_id"]
    record = next(r for r in changed if r["id"] == first)
    record["messages"].insert(0, {"role": "assistant", "content": "hello"})
    logs_copy = tmp_path / "logs.jsonl"
    logs_copy.write_text("".join(json.dumps(r) + "\n" for r in changed))
    side = json.loads((tmp_path / "part.jsonl.run.json").read_text())
    side["inputs"], side["input_sha256"] = [str(logs_copy)], [sha256_of(logs_copy)]
    (tmp_path / "part.jsonl.run.json").write_text(json.dumps(side))
    result = score_cli(logs_copy, "-o", part, "--resume")
    assert result.exit_code == 2
    assert f"dialogue '{first}' has records for turns" in result.stderr
    assert "so the file was altered: run again without --resume" in result.stderr


def test_resume_refuses_an_input_whose_text_changed_under_the_same_path(score_cli, tmp_path, small_run):
    """Same path, same ids, same turns, other words: the old scores must not be mixed in (they were,
    silently, when only ids and turn indices were compared)."""
    logs, full = small_run
    mine = tmp_path / "logs.jsonl"
    mine.write_bytes(logs.read_bytes())
    assert score_cli(mine, "-o", tmp_path / "part.jsonl").exit_code == 0
    part = tmp_path / "part.jsonl"
    part.write_bytes(part.read_bytes()[:5000])                     # interrupted
    before = part.read_bytes()
    mine.write_text(mine.read_text().replace('"content": "', '"content": "so ', 1))
    result = score_cli(mine, "-o", part, "--resume")
    assert result.exit_code == 2
    assert result.stderr == (f"error: cannot resume {part}: it was made with another model, settings or input "
                             "(differs: input_sha256 (an input's content changed)); run again without --resume\n")
    assert part.read_bytes() == before


def test_resume_accepts_another_spelling_of_the_same_input(score_cli, tmp_path, small_run, monkeypatch):
    logs, full = small_run
    monkeypatch.chdir(logs.parent)
    part = interrupted_copy(tmp_path, small_run, 5000)              # made with the absolute path
    result = score_cli(f"./{logs.name}", "-o", part, "--resume")
    assert result.exit_code == 0, result.output
    assert part.read_bytes() == full["jsonl"].read_bytes()


def test_resume_refuses_stdin(score_cli, tmp_path, small_run):
    """Stdin cannot be read twice to check that it holds what the interrupted run scored."""
    logs, _ = small_run
    part = interrupted_copy(tmp_path, small_run, 5000)
    result = score_cli("-", "-o", part, "--resume", input=logs.read_text())
    assert (result.exit_code, result.stderr) == (
        2, "error: --resume needs input files: stdin cannot be read twice to check that it holds what the "
           "interrupted run scored\n")


def test_sigkill_mid_run_then_resume_matches_an_uninterrupted_run(score_cli, tmp_path, tiny_bundle):
    """The issue's test: a few thousand dialogues, SIGKILL mid-way, resume, compare record for record."""
    logs = make_logs(tmp_path / "logs.jsonl", 2000, seed=1)
    full, part = tmp_path / "full.jsonl", tmp_path / "part.jsonl"
    summary_full, summary_part = tmp_path / "full.json", tmp_path / "part.json"
    assert score_cli(logs, "-o", full, "-o", summary_full).exit_code == 0
    total = len(full.read_bytes().splitlines())
    command = [sys.executable, "-m", "empathy_metric.cli.main", str(logs), "-m", str(tiny_bundle), "-q",
               "-o", str(part)]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 300
    # Kill once a fifth is written: dialogues are written a scoring chunk (512 windows) at a time.
    fifth = full.stat().st_size // 5
    partial = tmp_path / "part.jsonl.partial"        # the output itself appears only when the run succeeds
    while not (partial.exists() and partial.stat().st_size > fifth) and process.poll() is None:
        assert time.monotonic() < deadline, "the run wrote nothing"
        time.sleep(0.005)
    assert process.poll() is None, "the run ended before it could be killed"
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert process.returncode == -signal.SIGKILL
    written = len(partial.read_bytes().splitlines())
    assert 0 < written < total and not part.exists()
    result = score_cli(logs, "-o", part, "-o", summary_part, "--resume")
    assert result.exit_code == 0, result.output
    assert part.read_bytes() == full.read_bytes() and not partial.exists()
    resumed, reference = json.loads(summary_part.read_text()), json.loads(summary_full.read_text())
    assert 0 < resumed["counts"]["dialogues_resumed"] < resumed["counts"]["dialogues_scored"]
    assert counts_without_resume(resumed) == counts_without_resume(reference)
    assert resumed["dialogues"] == reference["dialogues"]
