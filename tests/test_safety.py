"""Issue 33, nothing destroyed, ever: outputs written safely under every collision, failure, signal and
odd input. Each test is one numbered case of the issue, run as a user would: real files, the CLI in a
real process (`python -m empathy_metric.cli.main`, this checkout first on PYTHONPATH), real signals,
real ONNX Runtime sessions on the committed tiny bundle."""
import concurrent.futures
import fcntl
import gzip
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import REPO, with_default_sigint
from test_resume import make_logs
from test_workers import assert_gone, children_of

pytestmark = pytest.mark.scoring

GOOD = '{"id": "a%d", "messages": [{"role": "user", "content": "i feel so sad"}, {"role": "assistant", "content": "i am sorry ."}]}\n'
ENV = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}


def command(*args, model) -> list[str]:
    return [sys.executable, "-m", "empathy_metric.cli.main", *map(str, args), "-m", str(model), "-q"]


def run(*args, model, cwd, stdin=None, timeout=120) -> subprocess.CompletedProcess:
    return subprocess.run(command(*args, model=model), cwd=cwd, stdin=stdin, capture_output=True, text=True,
                          env=ENV, timeout=timeout)


@pytest.fixture
def logs(tmp_path):
    (tmp_path / "in.jsonl").write_text("".join(GOOD % i for i in range(4)))
    return tmp_path / "in.jsonl"


def snapshot(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if p.is_file() and not p.is_symlink()}


# ---- 1. side files never destroy an input ----------------------------------------------------------

@pytest.mark.parametrize("output", ["s.json", "s.md", "s.junit.xml", "s.html", "s.jsonl", "s.csv"])
def test_an_input_named_like_the_old_temporary_file_survives(tmp_path, logs, tiny_bundle, output):
    """`score s.json.tmp -o s.json` deleted its input (the temporary file was `OUT.tmp`)."""
    source = tmp_path / f"{output}.tmp"
    source.write_bytes(logs.read_bytes())
    done = run(source.name, "-o", output, model=tiny_bundle, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert source.read_bytes() == logs.read_bytes() and (tmp_path / output).stat().st_size > 0


@pytest.mark.parametrize("suffix, what", [(".run.json", "resume sidecar"), (".partial", "partial file"),
                                          (".lock", "lock file")])
def test_an_input_named_like_a_side_file_is_refused_before_any_work(tmp_path, logs, tiny_bundle, suffix, what):
    """`t.jsonl.run.json` as input with `-o t.jsonl`: the sidecar overwrote the input before it was read."""
    source = tmp_path / f"t.jsonl{suffix}"
    source.write_bytes(logs.read_bytes())
    done = run(source.name, "-o", "t.jsonl", model=tiny_bundle, cwd=tmp_path)
    assert (done.returncode, done.stderr) == (
        2, f"error: -o t.jsonl: its {what} {source.name} is the input {source.name}; writing it would destroy "
           "the input\n")
    assert source.read_bytes() == logs.read_bytes() and not (tmp_path / "t.jsonl").exists()


# ---- 2. stdin that is an output --------------------------------------------------------------------

def test_stdin_that_is_the_output_is_refused(tmp_path, logs, tiny_bundle):
    """`score - -o c.jsonl < c.jsonl` truncated c.jsonl to 0 bytes."""
    before = logs.read_bytes()
    with open(logs, "rb") as stdin:
        done = run("-", "-o", logs.name, model=tiny_bundle, cwd=tmp_path, stdin=stdin)
    assert (done.returncode, done.stderr) == (
        2, "error: -o in.jsonl: is the file on stdin; writing it would destroy the input\n")
    assert logs.read_bytes() == before
    sidecar = tmp_path / "t.jsonl.run.json"
    sidecar.write_bytes(before)
    with open(sidecar, "rb") as stdin:
        done = run("-", "-o", "t.jsonl", model=tiny_bundle, cwd=tmp_path, stdin=stdin)
    assert (done.returncode, done.stderr) == (
        2, "error: -o t.jsonl: its resume sidecar t.jsonl.run.json is the file on stdin; writing it would "
           "destroy the input\n")
    assert sidecar.read_bytes() == before


# ---- 3. temporary and side files never follow a planted symlink -------------------------------------

def test_symlinks_planted_at_the_old_temporary_names_are_never_followed(tmp_path, logs, tiny_bundle):
    victim = tmp_path / "victim.txt"
    victim.write_text("precious")
    for name in ("s.json.tmp", "t.jsonl.tmp", "t.jsonl.run.json.tmp", "s.md.tmp"):
        (tmp_path / name).symlink_to(victim)
    (tmp_path / "in.jsonl.tmp").symlink_to(logs)                # the input itself as the target
    done = run("in.jsonl", "-o", "s.json", "-o", "t.jsonl", "-o", "s.md", model=tiny_bundle, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert victim.read_text() == "precious" and logs.read_text() == "".join(GOOD % i for i in range(4))
    assert json.loads((tmp_path / "s.json").read_text())["counts"]["dialogues_scored"] == 4


@pytest.mark.parametrize("suffix", [".partial", ".lock", ".run.json"])
def test_a_symlink_at_a_side_file_is_refused(tmp_path, logs, tiny_bundle, suffix):
    victim = tmp_path / "victim.txt"
    victim.write_text("precious")
    (tmp_path / f"t.jsonl{suffix}").symlink_to(victim)
    done = run("in.jsonl", "-o", "t.jsonl", model=tiny_bundle, cwd=tmp_path)
    assert done.returncode == 2 and f"t.jsonl{suffix} is a symbolic link" in done.stderr, done.stderr
    assert victim.read_text() == "precious"


# ---- 4. a failed run leaves the previous results -----------------------------------------------------

def test_a_run_that_fails_half_way_leaves_every_previous_output(tmp_path, tiny_bundle):
    """A run failing at line 150 left old.jsonl at 0 bytes and old.csv header-only."""
    logs = make_logs(tmp_path / "logs.jsonl", 200)
    outputs = ["old.jsonl", "old.csv", "old.json", "old.md", "old.junit.xml"]
    flags = sum((["-o", o] for o in outputs), []) + ["--fail-under", "perceived.empathy=0", "--gate-on", "mean"]
    assert run(logs.name, *flags, model=tiny_bundle, cwd=tmp_path).returncode == 0
    before = {o: (tmp_path / o).read_bytes() for o in outputs}
    lines = logs.read_text().splitlines(keepends=True)
    lines[149] = '{"id": "broken", "messages": "not a list"}\n'
    logs.write_text("".join(lines))
    done = run(logs.name, *flags, model=tiny_bundle, cwd=tmp_path)
    assert (done.returncode, done.stderr) == (
        3, "error: logs.jsonl:150: field 'messages' must be a list of turns, got text\n")
    assert {o: (tmp_path / o).read_bytes() for o in outputs} == before
    left = sorted(p.name for p in tmp_path.iterdir())
    assert left == sorted(outputs + ["logs.jsonl", "old.jsonl.partial", "old.jsonl.run.json"])


# ---- 5. two runs on one output ---------------------------------------------------------------------

def test_a_second_run_on_the_same_output_is_refused_while_the_first_runs(tmp_path, tiny_bundle):
    logs = make_logs(tmp_path / "logs.jsonl", 2000, seed=4)
    first = subprocess.Popen(command(logs.name, "-o", "t.jsonl", model=tiny_bundle), cwd=tmp_path, env=ENV,
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    partial = tmp_path / "t.jsonl.partial"
    deadline = time.monotonic() + 300
    while not (partial.exists() and partial.stat().st_size > 0) and first.poll() is None:
        assert time.monotonic() < deadline, "the first run wrote nothing"
        time.sleep(0.005)
    assert first.poll() is None, "the first run ended before a second could start"
    second = run(logs.name, "-o", "t.jsonl", model=tiny_bundle, cwd=tmp_path)
    assert (second.returncode, second.stderr) == (
        2, "error: -o t.jsonl: another empathy-score run is writing it now (it holds t.jsonl.lock); wait for it "
           "to end, or write another file\n")
    assert first.wait(timeout=300) == 0, first.stderr.read()
    alone = run(logs.name, "-o", "alone.jsonl", model=tiny_bundle, cwd=tmp_path)
    assert alone.returncode == 0
    assert (tmp_path / "t.jsonl").read_bytes() == (tmp_path / "alone.jsonl").read_bytes()
    assert not (tmp_path / "t.jsonl.lock").exists()


def test_a_lock_held_elsewhere_refuses_the_run_before_the_model_loads(tmp_path, logs, tiny_bundle):
    with open(tmp_path / "t.csv.lock", "w") as held:
        fcntl.flock(held.fileno(), fcntl.LOCK_EX)
        done = run("in.jsonl", "-o", "t.csv", model=tiny_bundle, cwd=tmp_path)
    assert done.returncode == 2 and "-o t.csv: another empathy-score run is writing it now" in done.stderr
    assert not (tmp_path / "t.csv").exists()


@pytest.mark.parametrize("argv", [("compare", "in.jsonl", "in.jsonl", "-o", "c.json"),
                                  ("compare", "in.jsonl", "in.jsonl", "in.jsonl", "-o", "c.json"),
                                  ("analyze", "in.jsonl", "--ratings", "r.csv", "-o", "c.json")],
                         ids=["compare", "compare-several", "analyze"])
def test_compare_and_analyze_outputs_are_locked_too(tmp_path, logs, tiny_bundle, argv):
    (tmp_path / "r.csv").write_text("dialogue_id,empathy\n" + "".join(f"a{i},{i % 5 + 1}\n" for i in range(4)))
    with open(tmp_path / "c.json.lock", "w") as held:
        fcntl.flock(held.fileno(), fcntl.LOCK_EX)
        done = run(*argv, model=tiny_bundle, cwd=tmp_path)
    assert done.returncode == 2 and "-o c.json: another empathy-score run is writing it now" in done.stderr
    assert not (tmp_path / "c.json").exists()
    again = run(*argv, model=tiny_bundle, cwd=tmp_path)           # the lock released: the same run works
    assert again.returncode == 0, again.stderr
    assert json.loads((tmp_path / "c.json").read_text()) and not (tmp_path / "c.json.lock").exists()


def test_gates_suggest_never_writes_over_its_baseline_summary(tmp_path, logs, tiny_bundle):
    assert run("in.jsonl", "-o", "base.json", model=tiny_bundle, cwd=tmp_path).returncode == 0
    summary = (tmp_path / "base.json").read_bytes()
    (tmp_path / "base.toml").write_bytes(summary)                 # a summary under a gates file's name
    for output, message in (("base.json", "-o base.json: unknown output format (use .toml)"),
                            ("base.toml", "-o base.toml: is the input base.toml; writing it would destroy")):
        done = subprocess.run([sys.executable, "-m", "empathy_metric.cli.main", "gates", "suggest", output,
                               "-o", output, "-m", str(tiny_bundle)], cwd=tmp_path, capture_output=True,
                              text=True, env=ENV, timeout=120)
        assert done.returncode == 2 and message in done.stderr, done.stderr
    assert (tmp_path / "base.json").read_bytes() == summary == (tmp_path / "base.toml").read_bytes()


# ---- 6. --resume checks what it keeps ---------------------------------------------------------------

@pytest.fixture
def interrupted(tmp_path, tiny_bundle):
    """A complete run of 60 dialogues and a copy of its records as an interrupted run's partial file."""
    logs = make_logs(tmp_path / "logs.jsonl", 60, seed=5)
    assert run(logs.name, "-o", "full.jsonl", model=tiny_bundle, cwd=tmp_path).returncode == 0
    lines = (tmp_path / "full.jsonl").read_text().splitlines(keepends=True)
    (tmp_path / "part.jsonl.run.json").write_text((tmp_path / "full.jsonl.run.json").read_text())
    return tmp_path, lines


def test_resume_refuses_a_kept_record_of_a_dialogue_in_no_input(interrupted, tiny_bundle):
    """The foreign record was kept: 4,001 lines for 2,000 dialogues."""
    folder, lines = interrupted
    foreign = json.loads(lines[0])
    foreign["dialogue_id"] = "not-in-any-input"
    middle = len(lines) // 2
    while json.loads(lines[middle])["dialogue_id"] == json.loads(lines[middle - 1])["dialogue_id"]:
        middle += 1                                   # between two dialogues
    kept = lines[:middle] + [json.dumps(foreign) + "\n"] + lines[middle:]
    (folder / "part.jsonl.partial").write_text("".join(kept))
    done = run("logs.jsonl", "-o", "part.jsonl", "--resume", model=tiny_bundle, cwd=folder)
    assert done.returncode == 2, done.stderr
    assert done.stderr.startswith(f"error: cannot resume part.jsonl: part.jsonl.partial:{middle + 1}: holds "
                                  "dialogue 'not-in-any-input' where a fresh run writes dialogue")
    assert "so the file was altered" in done.stderr and not (folder / "part.jsonl").exists()


def test_resume_names_a_line_removed_from_the_partial_file_as_such(interrupted, tiny_bundle):
    """It was reported as "the input changed", though the input's sha256 matched."""
    folder, lines = interrupted
    ids = [json.loads(line)["dialogue_id"] for line in lines]
    k = next(i for i in range(1, len(ids)) if ids[i - 1] == ids[i] != ids[-1])      # the second line of a dialogue
    (folder / "part.jsonl.partial").write_text("".join(lines[:k] + lines[k + 1:]))
    done = run("logs.jsonl", "-o", "part.jsonl", "--resume", model=tiny_bundle, cwd=folder)
    assert done.returncode == 2, done.stderr
    assert f"dialogue '{ids[k]}' has records for turns" in done.stderr
    assert "the input changed" not in done.stderr and "so the file was altered" in done.stderr


def test_resume_refuses_a_kept_line_that_a_fresh_run_would_not_write(interrupted, tiny_bundle):
    folder, lines = interrupted
    record = json.loads(lines[3])
    record["role"] = "robot"
    (folder / "part.jsonl.partial").write_text("".join(lines[:3] + [json.dumps(record) + "\n"] + lines[4:]))
    done = run("logs.jsonl", "-o", "part.jsonl", "--resume", model=tiny_bundle, cwd=folder)
    assert done.returncode == 2 and "part.jsonl.partial:4: the record of dialogue" in done.stderr, done.stderr


def test_resume_from_an_intact_partial_file_gives_the_uninterrupted_bytes(interrupted, tiny_bundle):
    folder, lines = interrupted
    (folder / "part.jsonl.partial").write_text("".join(lines[:len(lines) // 2]))
    done = run("logs.jsonl", "-o", "part.jsonl", "--resume", model=tiny_bundle, cwd=folder)
    assert done.returncode == 0, done.stderr
    assert (folder / "part.jsonl").read_bytes() == (folder / "full.jsonl").read_bytes()
    assert not (folder / "part.jsonl.partial").exists()


# ---- 7. gates fail closed on a typo ------------------------------------------------------------------

@pytest.mark.parametrize("value", ["0_5", "0x1", "inf", "-Infinity", "nan", "1e", ".", "½", "0.5.1"])
def test_a_threshold_that_is_no_plain_decimal_is_refused(score_cli, logs, value):
    result = score_cli(logs, "--fail-over", f"esconv_strategy.rate.others={value}")
    assert result.exit_code == 2
    assert f"--fail-over esconv_strategy.rate.others={value}: '{value}' is not a number" in result.stderr \
        or "must be a finite number" in result.stderr


@pytest.mark.parametrize("value", ["0_5", "0x1", "inf"])
def test_a_tail_gate_number_that_is_no_plain_decimal_is_refused(score_cli, logs, value):
    for gate in (f"perceived.empathy<{value}=0.1", f"perceived.empathy<0.2={value}"):
        result = score_cli(logs, "--max-share", gate)
        assert result.exit_code == 2 and f"'{value}' is not a number" in result.stderr, result.stderr


@pytest.mark.parametrize("gate, message", [
    ("--fail-over=esconv_strategy.rate.others=5",
     "--fail-over esconv_strategy.rate.others=5: 5 is outside the range of esconv_strategy.rate.others (0..1)"),
    ("--fail-under=perceived.empathy=-0.1",
     "--fail-under perceived.empathy=-0.1: -0.1 is outside the range of perceived.empathy (0..1)"),
    ("--fail-under=emh_explorations.mean_level=2.5",
     "--fail-under emh_explorations.mean_level=2.5: 2.5 is outside the range of emh_explorations.mean_level (0..2)"),
])
def test_a_threshold_outside_the_metric_range_is_refused(score_cli, logs, gate, message):
    result = score_cli(logs, gate)
    assert result.exit_code == 2 and message in result.stderr, result.stderr


def test_thresholds_at_the_ends_of_the_range_are_accepted(score_cli, logs):
    result = score_cli(logs, "--fail-under", "emh_explorations.mean_level=0", "--fail-over",
                       "perceived.empathy=1.0", "--gate-on", "mean")
    assert result.exit_code == 0, result.stderr


@pytest.mark.parametrize("drop, code", [("5", 2), ("0_5", 2), ("1.0", 0)])
def test_compare_refuses_a_drop_larger_than_the_metric_can_move(tmp_path, logs, tiny_bundle, drop, code):
    done = run("compare", "in.jsonl", "in.jsonl", "--max-drop", f"perceived.empathy={drop}", model=tiny_bundle,
               cwd=tmp_path)
    assert done.returncode == code, done.stderr
    if drop == "5":
        assert ("--max-drop perceived.empathy=5: perceived.empathy takes values in 0..1, so a drop of 5 could "
                "never happen and the gate could never fail") in done.stderr


# ---- 8. signals --------------------------------------------------------------------------------------

def started(tmp_path, tiny_bundle, logs, *flags, new_group=False) -> subprocess.Popen:
    process = subprocess.Popen(command(logs.name, "-o", "t.jsonl", *flags, model=tiny_bundle), cwd=tmp_path,
                               env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                               preexec_fn=with_default_sigint, start_new_session=new_group)
    partial = tmp_path / "t.jsonl.partial"
    deadline = time.monotonic() + 300
    while not (partial.exists() and partial.stat().st_size > 0) and process.poll() is None:
        assert time.monotonic() < deadline, "the run wrote nothing"
        time.sleep(0.005)
    assert process.poll() is None, "the run ended before it could be interrupted"
    return process


def test_sigterm_with_workers_ends_the_run_like_ctrl_c_and_leaves_a_resumable_partial_file(tmp_path, tiny_bundle):
    """SIGTERM (`timeout`, CI cancellation) exited 143 without a word and, with workers, printed a
    3-line multiprocessing warning. Now: exactly one line, the workers gone when the run is, and the
    partial file resumes to the bytes of an uninterrupted run."""
    logs = make_logs(tmp_path / "logs.jsonl", 2000, seed=6)
    process = started(tmp_path, tiny_bundle, logs, "--workers", "2")
    workers = children_of(process.pid)
    process.send_signal(signal.SIGTERM)
    assert (process.wait(timeout=120), process.stderr.read().decode()) == (143, "interrupted (SIGTERM)\n")
    assert_gone(workers)
    assert not (tmp_path / "t.jsonl").exists()
    assert run(logs.name, "-o", "t.jsonl", "--resume", model=tiny_bundle, cwd=tmp_path).returncode == 0
    assert run(logs.name, "-o", "full.jsonl", model=tiny_bundle, cwd=tmp_path).returncode == 0
    assert (tmp_path / "t.jsonl").read_bytes() == (tmp_path / "full.jsonl").read_bytes()


@pytest.mark.parametrize("signum, code, line, group", [(signal.SIGHUP, 129, "interrupted (SIGHUP)\n", True),
                                                       (signal.SIGINT, 130, "interrupted\n", False)])
def test_sighup_and_ctrl_c_with_workers_print_one_line(tmp_path, tiny_bundle, signum, code, line, group):
    """SIGHUP to the whole process group (a closed terminal) reached multiprocessing's resource tracker
    too, whose successor printed KeyError tracebacks; Ctrl-C printed a blank line first (click's)."""
    logs = make_logs(tmp_path / "logs.jsonl", 2000, seed=6)
    process = started(tmp_path, tiny_bundle, logs, "--workers", "2", new_group=group)
    workers = children_of(process.pid)
    if group:
        os.killpg(process.pid, signum)
    else:
        process.send_signal(signum)
    assert (process.wait(timeout=120), process.stderr.read().decode()) == (code, line)
    assert_gone(workers)


def test_stopping_the_pool_ends_workers_busy_with_a_long_chunk():
    """`WorkerPool.stop()` terminated nothing (it read `_processes` after shutdown, which CPython 3.11
    sets to None), so Ctrl-C waited for every chunk in progress (8-13 s with the shipped model)."""
    from empathy_metric.pipeline.parallel import WorkerPool
    pool = WorkerPool(2, int)
    busy = [pool.executor.submit(time.sleep, 120) for _ in range(2)]
    deadline = time.monotonic() + 60
    while not (pool.executor._processes and len(pool.executor._processes) == 2) and time.monotonic() < deadline:
        time.sleep(0.05)
    processes = list(pool.executor._processes.values())
    time.sleep(0.5)                                   # both are inside time.sleep(120) by now
    pool.stop()
    ended_by = time.monotonic() + 2          # the bound; the executor's thread may reap them too
    while any(p.is_alive() for p in processes) and time.monotonic() < ended_by:
        time.sleep(0.01)
    assert not any(p.is_alive() for p in processes)
    # The executor's own thread marks the futures of the ended workers (broken pool) once it reads the
    # pipe's end: asynchronously, so wait for it (a CI run checked too early, 1 in 5 runs here).
    concurrent.futures.wait(busy, timeout=10)
    assert all(f.cancelled() or f.done() for f in busy)


# ---- 9. unbounded or stuck ---------------------------------------------------------------------------

def test_an_endless_line_is_refused_once_it_passes_the_record_limit(tmp_path, tiny_bundle):
    """`empathy-score score /dev/zero` grew to 23 GB."""
    done = run("/dev/zero", "--max-record-bytes", "1000000", model=tiny_bundle, cwd=tmp_path, timeout=60)
    assert (done.returncode, done.stderr) == (
        3, "error: /dev/zero:1: record larger than 1,000,000 bytes (--max-record-bytes raises the limit)\n")


def test_a_line_over_the_limit_names_its_line_with_and_without_workers(tmp_path, tiny_bundle):
    lines = [GOOD % i for i in range(30)]
    lines[17] = GOOD.replace("i am sorry .", "so sorry " * 300) % 17
    (tmp_path / "long.jsonl").write_text("".join(lines))
    for workers in ("1", "2"):
        done = run("long.jsonl", "--max-record-bytes", "2000", "--workers", workers, model=tiny_bundle, cwd=tmp_path)
        assert (done.returncode, done.stderr) == (
            3, "error: long.jsonl:18: record larger than 2,000 bytes (--max-record-bytes raises the limit)\n")


@pytest.mark.parametrize("make, what", [(os.mkfifo, "is a named pipe (FIFO), not a regular file"),
                                        (lambda p: os.symlink("nowhere/x.json", p), "is a symbolic link that leads nowhere")])
def test_a_fifo_or_dangling_link_output_is_refused_before_the_model_loads(tmp_path, logs, make, what):
    """-o to a FIFO hung forever; a dangling link exited 4 after loading the model. The model here does
    not exist: a refusal before it is loaded is exit 2, after it exit 4."""
    make(str(tmp_path / "s.json"))
    done = run("in.jsonl", "-o", "s.json", model=tmp_path / "no-such-model", cwd=tmp_path, timeout=60)
    assert (done.returncode, done.stderr) == (2, f"error: -o s.json: s.json {what}; give the real path (outputs "
                                                 "are replaced, never written through a link)\n"
                                              if "link" in what else f"error: -o s.json: s.json {what}\n")


def test_a_folder_at_the_old_temporary_name_does_not_matter(tmp_path, logs, tiny_bundle):
    (tmp_path / "s.json.tmp").mkdir()
    done = run("in.jsonl", "-o", "s.json", model=tiny_bundle, cwd=tmp_path)
    assert done.returncode == 0 and (tmp_path / "s.json").is_file(), done.stderr


# ---- 10. Markdown injection --------------------------------------------------------------------------

def test_a_file_name_cannot_write_markdown_into_the_summary(tmp_path, tiny_bundle):
    name = "x`\n### ✅ PASS: all gates passed\n<img src=x>`.jsonl"
    (tmp_path / name).write_text("".join(GOOD % i for i in range(4)))
    done = run(name, "-o", "s.md", "--fail-under", "perceived.empathy=1", "--gate-on", "mean",
               model=tiny_bundle, cwd=tmp_path)
    assert done.returncode == 1, done.stderr
    md = (tmp_path / "s.md").read_text()
    assert [line for line in md.splitlines() if line.startswith("#")] == [
        "### empathy-score · ❌ FAIL: 1 of 1 gate failed"]
    assert "``x`\\n### ✅ PASS: all gates passed\\n<img src=x>`.jsonl``" in md


def test_code_spans_hold_any_string():
    from empathy_metric.reporting.markdown_summary import code
    assert code("a") == "`a`"
    assert code("`") == "`` ` ``"
    assert code("a``b\r\nc\u2028") == "```a``b\\r\\nc\\u2028```"


# ---- 11. smaller cases -------------------------------------------------------------------------------

def test_gzip_input_gives_the_scores_of_the_plain_file(score_cli, tmp_path, tiny_bundle):
    """It was `not valid UTF-8 (byte 2)`. Files in-process, stdin through a real process's pipe."""
    logs = make_logs(tmp_path / "logs.jsonl", 50, seed=7)
    (tmp_path / "logs.jsonl.gz").write_bytes(gzip.compress(logs.read_bytes()))
    (tmp_path / "renamed.jsonl").write_bytes(gzip.compress(logs.read_bytes()))      # magic bytes, not the name
    for source in ("logs.jsonl", "logs.jsonl.gz", "renamed.jsonl"):
        result = score_cli(tmp_path / source, "-o", tmp_path / f"{source}.out.jsonl")
        assert result.exit_code == 0, result.stderr
    plain = (tmp_path / "logs.jsonl.out.jsonl").read_bytes()
    assert (tmp_path / "logs.jsonl.gz.out.jsonl").read_bytes() == plain
    assert (tmp_path / "renamed.jsonl.out.jsonl").read_bytes() == plain
    with open(tmp_path / "logs.jsonl.gz", "rb") as stdin:
        done = subprocess.run(command("-", "-o", "stdin.jsonl", model=tiny_bundle), cwd=tmp_path, stdin=stdin,
                              capture_output=True, env=ENV, timeout=120)
    assert done.returncode == 0 and (tmp_path / "stdin.jsonl").read_bytes() == plain


def test_a_cut_gzip_file_is_bad_input(tmp_path, tiny_bundle):
    data = gzip.compress("".join(GOOD % i for i in range(400)).encode())
    (tmp_path / "cut.jsonl.gz").write_bytes(data[:len(data) // 2])
    done = run("cut.jsonl.gz", model=tiny_bundle, cwd=tmp_path)
    assert done.returncode == 3 and done.stderr.startswith("error: cut.jsonl.gz: not a valid gzip file ("), done.stderr


@pytest.mark.parametrize("head, what", [(b"PK\x03\x04", "a zip archive"), (b"PAR1", "a Parquet file"),
                                        (b"SQLite format 3\x00", "an SQLite database")])
def test_other_binary_input_is_named_for_what_it_looks_like(tmp_path, tiny_bundle, head, what):
    (tmp_path / "logs.jsonl").write_bytes(head + bytes(range(256)))
    done = run("logs.jsonl", model=tiny_bundle, cwd=tmp_path)
    assert done.returncode == 3 and done.stderr.startswith(f"error: logs.jsonl:1: this looks like {what}, not a "
                                                           "dialogue log"), done.stderr


def test_compare_with_stdin_on_both_sides_says_so(score_cli):
    result = score_cli("compare", "-", "-", input="")
    assert result.exit_code == 2 and "stdin can be read only once" in result.stderr


def test_two_different_lone_surrogate_ids_stay_two_ids(score_cli, tmp_path):
    records = [{"id": f"x{chr(0xd800 + k)}", "messages": [{"role": "user", "content": "hi"},
                                                          {"role": "assistant", "content": "hello"}]}
               for k in range(2)]
    (tmp_path / "s.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    result = score_cli(tmp_path / "s.jsonl", "-o", tmp_path / "t.jsonl")
    assert result.exit_code == 0, result.stderr
    ids = [json.loads(line)["dialogue_id"] for line in (tmp_path / "t.jsonl").read_text().splitlines()]
    assert ids == ["x\\ud800", "x\\ud801"]


@pytest.mark.parametrize("where, value, message", [
    ("perceived", 1e308, "'perceived.empathy' is 1e+308, but a score lies in 0..1"),
    ("probs", 7, "'probs.emh_explorations.none' is 7, but a probability lies in 0..1"),
])
def test_saved_scores_out_of_range_are_bad_input(tmp_path, tiny_bundle, where, value, message):
    logs = make_logs(tmp_path / "logs.jsonl", 20, seed=8)
    assert run(logs.name, "-o", "a.jsonl", model=tiny_bundle, cwd=tmp_path).returncode == 0
    lines = (tmp_path / "a.jsonl").read_text().splitlines(keepends=True)
    record = json.loads(lines[2])
    if where == "perceived":
        record["perceived"]["empathy"] = value
    else:
        record["probs"]["emh_explorations"]["none"] = value
    lines[2] = json.dumps(record) + "\n"
    (tmp_path / "b.jsonl").write_text("".join(lines))
    done = run("compare", "a.jsonl", "b.jsonl", model=tiny_bundle, cwd=tmp_path)
    assert (done.returncode, done.stderr) == (3, f"error: b.jsonl:3: {message}\n")


def test_scorer_score_of_none_is_a_usage_error(tiny_bundle):
    from empathy_metric.api import Scorer
    from empathy_metric.errors import UsageError
    scorer = Scorer.from_pretrained(str(tiny_bundle))
    for wrong in (None, "text", {"messages": []}, 3):
        with pytest.raises(UsageError, match="dialogues must be a list"):
            scorer.score(wrong)
