"""`--workers N`: chunks of dialogues scored in worker processes give the bytes of one process (per-turn
files, summary with CIs), the same counts, the same errors for bad input; --resume holds; a worker
that dies is an error naming its chunk; Ctrl-C ends every worker. Both ways of reading: the parent
parses the records (`parent_reads`), or the workers read their own blocks of the input (`small_blocks`)."""
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import REPO, with_default_sigint
from test_resume import make_logs

pytestmark = pytest.mark.scoring

OUTPUTS = ("turns.jsonl", "turns.csv", "summary.json", "summary.md")


@pytest.fixture(scope="module")
def logs(tmp_path_factory):
    """1,500 dialogues, ~2,200 agent turns: five chunks of 512 windows, so the pool starts."""
    return make_logs(tmp_path_factory.mktemp("workers") / "logs.jsonl", 1500, seed=3)


def with_block_size(monkeypatch, bytes_per_window: int) -> None:
    """Scorers built by the CLI cut blocks of `bytes_per_window` bytes per chunk window (the
    `bytes_per_window` parameter of Scorer.from_pretrained, which the CLI does not offer)."""
    from empathy_metric.scoring.scorer import Scorer
    original = Scorer.from_pretrained.__func__

    def from_pretrained(cls, *args, **kwargs):     # named: the workers' recipe pickles it by name
        return original(cls, *args, bytes_per_window=bytes_per_window, **kwargs)
    monkeypatch.setattr(Scorer, "from_pretrained", classmethod(from_pretrained))


@pytest.fixture
def parent_reads(monkeypatch):
    """One block per file: the parent reads and parses the records, workers get parsed dialogues."""
    with_block_size(monkeypatch, 1 << 40)


def outputs_of(score_cli, folder: Path, *args) -> dict[str, bytes]:
    folder.mkdir()
    result = score_cli(*args, *sum((["-o", folder / name] for name in OUTPUTS), []))
    assert result.exit_code == 0, result.output
    return {name: (folder / name).read_bytes() for name in OUTPUTS}


def test_any_number_of_workers_writes_the_bytes_of_one_process(score_cli, logs, tmp_path, parent_reads):
    one = outputs_of(score_cli, tmp_path / "one", logs, "--workers", "1", "--include-text")
    for workers in ("2", "3"):
        assert outputs_of(score_cli, tmp_path / workers, logs, "--workers", workers, "--include-text") == one
    summary = json.loads(one["summary.json"])
    assert summary["counts"]["dialogues_scored"] > 1000 and summary["corpus"]


def test_model_in_this_process_and_cpu_stages_in_workers_write_the_same_bytes(logs, tiny_bundle, tmp_path, parent_reads):
    """One inference process per GPU (the default with --device cuda), run here on CPU: the workers
    encode and batch each chunk, this process runs the batches, the workers decode and render."""
    from empathy_metric.api import CpuStages, Scorer, score_files
    from empathy_metric.io.readers import ReaderOptions
    written = {}
    for name, workers, inference in (("one", 1, "workers"), ("here", 2, "here")):
        scorer = Scorer.from_pretrained(str(tiny_bundle), workers=workers, inference=inference)
        run_here, ran = scorer.backend.run_prepared, []
        scorer.backend.run_prepared = lambda prepared: ran.append(prepared.count) or run_here(prepared)
        outputs = [str(tmp_path / f"{name}-{file}") for file in OUTPUTS]
        score_files(scorer, [str(logs)], ReaderOptions(), outputs, include_text=True)
        written[name] = [Path(path).read_bytes() for path in outputs]
    assert written["here"] == written["one"]
    turns = json.loads(written["here"][OUTPUTS.index("summary.json")])["counts"]["turns_scored"]
    assert len(ran) >= 3 and sum(ran) == turns          # every chunk's windows ran here, none in a worker
    stages = scorer.stages_recipe(threads=1)
    assert isinstance(stages.backend, CpuStages) and not hasattr(stages.backend, "session")


def test_compare_scores_its_logs_with_workers_to_the_same_bytes(score_cli, logs, tmp_path):
    compared = []
    for workers in ("1", "2"):
        out = tmp_path / f"compare-{workers}.json"
        assert score_cli("compare", logs, logs, "--workers", workers, "-o", out).exit_code == 0
        compared.append(out.read_bytes())
    assert compared[0] == compared[1]


def test_bad_records_give_the_same_skips_and_errors(score_cli, logs, tmp_path, parent_reads):
    lines = logs.read_text().splitlines()
    lines[700] = '{"id": "broken", "messages": ['                 # not JSON
    lines[1200] = lines[3]                                           # a duplicate dialogue id
    lines[1300] = '{"id": "no-turns", "messages": []}'
    bad = tmp_path / "bad.jsonl"
    bad.write_text("\n".join(lines) + "\n")
    skipped = [json.loads(outputs_of(score_cli, tmp_path / f"skip{w}", bad, "--workers", w, "--on-error", "skip")
                          ["summary.json"])["counts"] for w in ("1", "2")]
    assert skipped[0] == skipped[1]
    assert skipped[0]["records_skipped"] == {"malformed_record": 1, "duplicate_dialogue_id": 1}
    errors = [score_cli(bad, "--workers", w, "-o", tmp_path / f"e{w}.jsonl") for w in ("1", "2")]
    assert [e.exit_code for e in errors] == [3, 3]
    assert errors[0].stderr == errors[1].stderr
    assert errors[0].stderr.startswith(f"error: {bad}:701: not valid JSON")


def test_resume_with_workers_completes_the_output(score_cli, logs, tmp_path):
    full = tmp_path / "full.jsonl"
    assert score_cli(logs, "--workers", "1", "-o", full).exit_code == 0
    part = tmp_path / "part.jsonl"
    part.write_bytes(full.read_bytes()[:len(full.read_bytes()) // 3])      # cut inside a line
    (tmp_path / "part.jsonl.run.json").write_text((tmp_path / "full.jsonl.run.json").read_text())
    summary = tmp_path / "summary.json"
    assert score_cli(logs, "--workers", "2", "-o", part, "-o", summary, "--resume").exit_code == 0
    assert part.read_bytes() == full.read_bytes()
    counts = json.loads(summary.read_text())["counts"]
    assert 0 < counts["dialogues_resumed"] < counts["dialogues_scored"]


def dying_scorer(bundle: str, threads: int):
    """A worker's scorer whose process ends abruptly (as a crash or the OOM killer would end it) on the
    first chunk that holds a dialogue from 'd1000' on."""
    from empathy_metric.api import Scorer
    scorer = Scorer.from_pretrained(bundle, threads=threads)
    predict = scorer.backend.predict

    def predict_or_die(windows):
        if any(int(w.dialogue_id[1:]) >= 1000 for w in windows):
            os._exit(1)
        return predict(windows)
    scorer.backend.predict = predict_or_die
    return scorer


def died_scoring(logs, tiny_bundle, tmp_path) -> str:
    """The error of `score --workers 2` whose workers die on 'd1000' (dying_scorer)."""
    import functools

    from empathy_metric.api import Scorer, score_files
    from empathy_metric.errors import ModelError
    from empathy_metric.io.readers import ReaderOptions
    scorer = Scorer.from_pretrained(str(tiny_bundle), workers=2)
    scorer.recipe = functools.partial(dying_scorer, str(tiny_bundle))
    with pytest.raises(ModelError) as error:
        score_files(scorer, [str(logs)], ReaderOptions(), [str(tmp_path / "turns.jsonl")])
    return str(error.value)


def test_a_worker_that_dies_is_an_error_naming_its_chunk(logs, tiny_bundle, tmp_path, parent_reads):
    message = died_scoring(logs, tiny_bundle, tmp_path)
    assert message.startswith("a worker process died while scoring chunk"), message
    first, last = [int(part.split("'")[0]) for part in message.split("(dialogues 'd")[1].split(" to 'd")]
    assert first <= 1000 <= last or first > 1000, message         # the chunks in flight hold the culprit
    assert f"({logs}:{first + 1}) to" in message


def children_of(pid: int) -> set[int]:
    found = set()
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            found |= {int(c) for c in (task / "children").read_text().split()}
        except FileNotFoundError:       # a thread that ended meanwhile started no one
            pass
    return found


def started_with_workers(logs, tiny_bundle, out: Path) -> tuple[subprocess.Popen, set[int]]:
    """`score --workers 2` in a real process, once it has written output; and its child processes."""
    process = subprocess.Popen([sys.executable, "-m", "empathy_metric.cli.main", str(logs), "-m", str(tiny_bundle),
                                "-q", "--workers", "2", "-o", str(out)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=REPO,
                               preexec_fn=with_default_sigint)
    deadline = time.monotonic() + 300
    partial = Path(f"{out}.partial")            # the output itself appears only when the run succeeds
    while not (partial.exists() and partial.stat().st_size > 0) and process.poll() is None:
        assert time.monotonic() < deadline, "the run wrote nothing"
        time.sleep(0.005)
    assert process.poll() is None, "the run ended before it could be interrupted"
    workers = children_of(process.pid)
    assert len(workers) >= 2                   # the pool's workers (and its resource tracker)
    return process, workers


def assert_gone(pids: set[int]) -> None:
    deadline = time.monotonic() + 10
    while any(Path(f"/proc/{pid}").exists() for pid in pids) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not [pid for pid in pids if Path(f"/proc/{pid}").exists()], "a worker outlived the run"


needs_proc = pytest.mark.skipif(not Path("/proc/self/task").exists(), reason="reads child processes from /proc")


@needs_proc
def test_ctrl_c_ends_every_worker(logs, tiny_bundle, tmp_path):
    process, workers = started_with_workers(logs, tiny_bundle, tmp_path / "turns.jsonl")
    process.send_signal(signal.SIGINT)
    assert process.wait(timeout=120) == 130
    assert process.stderr.read().decode().strip() == "interrupted"
    assert_gone(workers)


@needs_proc
def test_workers_leave_with_a_parent_killed_outright(logs, tiny_bundle, tmp_path):
    """SIGKILL (or the OOM killer) gives the parent no chance to stop them: they notice on their own."""
    process, workers = started_with_workers(logs, tiny_bundle, tmp_path / "turns.jsonl")
    process.kill()
    assert process.wait(timeout=120) == -signal.SIGKILL
    assert_gone(workers)


# ---- workers that read their own blocks of the input (block_scoring.py) ---------------------------

@pytest.fixture
def small_blocks(monkeypatch):
    """Blocks of 16 KiB, so that the 1,500-dialogue logs (~14 blocks) are read in the workers; the
    calls to the block path are recorded, so that a test knows it ran."""
    from empathy_metric.scoring import block_scoring
    with_block_size(monkeypatch, 32)                         # x 512 windows per chunk: 16 KiB
    calls = []
    original = block_scoring.iter_block_scores
    monkeypatch.setattr(block_scoring, "iter_block_scores", lambda *a, **k: calls.append(a[1]) or original(*a, **k))
    return calls


def test_workers_reading_their_own_blocks_write_the_bytes_of_one_process(score_cli, logs, tmp_path, small_blocks):
    one = outputs_of(score_cli, tmp_path / "one", logs, "--workers", "1", "--include-text")
    assert not small_blocks
    for workers in ("2", "3"):
        assert outputs_of(score_cli, tmp_path / workers, logs, "--workers", workers, "--include-text") == one
    assert small_blocks == [[str(logs)], [str(logs)]]


def test_blocks_with_the_model_in_this_process_write_the_same_bytes(logs, tiny_bundle, tmp_path, small_blocks):
    from empathy_metric.api import Scorer, score_files
    from empathy_metric.io.readers import ReaderOptions
    written = {}
    for name, workers, inference in (("one", 1, "workers"), ("here", 2, "here")):
        scorer = Scorer.from_pretrained(str(tiny_bundle), workers=workers, inference=inference)
        outputs = [str(tmp_path / f"{name}-{file}") for file in OUTPUTS]
        score_files(scorer, [str(logs)], ReaderOptions(), outputs, include_text=True)
        written[name] = [Path(path).read_bytes() for path in outputs]
    assert written["here"] == written["one"] and len(small_blocks) == 1


def test_blocks_give_the_same_skips_and_errors(score_cli, logs, tmp_path, small_blocks):
    lines = logs.read_text().splitlines()
    lines[5] = '{"id": "broken", "messages": ['                   # not JSON, first block
    lines[700] = lines[3]                 # an id of the first block again: the block is scored again
    lines[702] = lines[3]                 # ... and again in the same block: a second time
    lines[900] = lines[899]               # a duplicate within one block
    lines[1300] = '{"id": "no-turns", "messages": []}'
    bad = tmp_path / "bad.jsonl"
    bad.write_text("\n".join(lines) + "\n")
    skipped = [json.loads(outputs_of(score_cli, tmp_path / f"skip{w}", bad, "--workers", w, "--on-error", "skip")
                          ["summary.json"])["counts"] for w in ("1", "2")]
    assert skipped[0] == skipped[1]
    assert skipped[0]["records_skipped"] == {"malformed_record": 1, "duplicate_dialogue_id": 3}
    assert small_blocks == [[str(bad)]]
    # without --on-error skip: the first bad record in input order, as one process reports it
    errors = [score_cli(bad, "--workers", w, "-o", tmp_path / f"e{w}.jsonl") for w in ("1", "2")]
    assert [e.exit_code for e in errors] == [3, 3] and errors[0].stderr == errors[1].stderr
    assert errors[0].stderr.startswith(f"error: {bad}:6: not valid JSON")
    lines[5] = lines[6].replace('"id": "d6"', '"id": "d5"')
    bad.write_text("\n".join(lines) + "\n")
    errors = [score_cli(bad, "--workers", w, "-o", tmp_path / f"d{w}.jsonl") for w in ("1", "2")]
    assert [e.exit_code for e in errors] == [3, 3] and errors[0].stderr == errors[1].stderr
    assert errors[0].stderr.startswith(f"error: {bad}:701: duplicate dialogue id 'd3' (first seen at {bad}:4)")


def test_a_worker_that_dies_reading_blocks_is_an_error_naming_its_lines(logs, tiny_bundle, tmp_path, small_blocks):
    message = died_scoring(logs, tiny_bundle, tmp_path)
    assert message.startswith("a worker process died while scoring chunk"), message
    lines = re.search(rf"\(dialogues {re.escape(str(logs))}:(\d+) to {re.escape(str(logs))}:(\d+)\)", message)
    first, last = int(lines[1]), int(lines[2])
    assert first <= 1001 <= last or first > 1001, message         # the blocks in flight hold the culprit
    assert small_blocks
