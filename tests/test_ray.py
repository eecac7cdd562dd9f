"""The Ray Data engine on a real local Ray cluster (`ray.init(num_cpus=2)`): `score --engine ray` writes
the local engine's bytes; with `-o DIR/` its shards (JSONL, Parquet) hold the local per-turn records
and the summary is the local one; `score_dataset` gives the local per-turn records and `summarize` the
local summary; without the extra, `--engine ray` is one line naming it (exit 2)."""
import importlib.util
import json
import subprocess
import sys

import pytest

from conftest import SAMPLE
from test_resume import make_logs

HAS_RAY = importlib.util.find_spec("ray") is not None
needs_ray = pytest.mark.skipif(not HAS_RAY, reason="the [ray] extra (Ray Data)")
OUTPUTS = ("turns.jsonl", "turns.csv", "summary.json", "summary.md")


@pytest.fixture(scope="module")
def cluster():
    """A local Ray cluster of 2 CPUs for this module's tests, then shut down."""
    import ray

    from empathy_metric.distributed import connect
    connect(num_cpus=2)
    yield
    ray.shutdown()


@pytest.fixture(scope="module")
def logs(tmp_path_factory):
    """600 dialogues: two chunks of 512 windows, so the chunks go to the actors."""
    return make_logs(tmp_path_factory.mktemp("ray") / "logs.jsonl", 600, seed=5)


def written(score_cli, folder, *args) -> dict[str, bytes]:
    folder.mkdir()
    result = score_cli(*args, *sum((["-o", folder / name] for name in OUTPUTS), []))
    assert result.exit_code == 0, result.output
    return {name: (folder / name).read_bytes() for name in OUTPUTS}


@pytest.mark.ray
@needs_ray
def test_engine_ray_writes_the_bytes_of_the_local_engine(cluster, score_cli, logs, tmp_path):
    local = written(score_cli, tmp_path / "local", logs, "--workers", "1")
    assert written(score_cli, tmp_path / "ray", logs, "--engine", "ray", "--workers", "2") == local


@pytest.mark.ray
@needs_ray
def test_score_dataset_and_summarize_give_the_local_results(cluster, score_cli, logs, tiny_bundle, tmp_path):
    import ray.data

    from empathy_metric.api import Scorer
    from empathy_metric.distributed import score_dataset, summarize
    from empathy_metric.reporting.statistics import BootstrapSettings
    local = written(score_cli, tmp_path / "local", logs, "--workers", "1")
    records = [json.loads(line) for line in logs.read_text().splitlines()]
    rows = score_dataset(ray.data.from_items(records), str(tiny_bundle), concurrency=2, dialogues_per_batch=100)
    lines = [row["json"] for row in rows.iter_rows()]
    assert "".join(line + "\n" for line in lines).encode() == local["turns.jsonl"]
    summary = summarize(lines, Scorer.from_pretrained(str(tiny_bundle)), BootstrapSettings())
    expected = json.loads(local["summary.json"])
    assert (summary["corpus"], summary["dialogues"]) == (expected["corpus"], expected["dialogues"])
    assert summary["counts"]["turns_scored"] == expected["counts"]["turns_scored"]


@pytest.fixture(scope="module")
def logs_with_gold(logs):
    """`logs` with gold labels on every third dialogue's turns (absent elsewhere) and, in an agent turn,
    a character that str.splitlines() would cut a JSON line at."""
    records = [json.loads(line) for line in logs.read_text().splitlines()]
    for number, record in enumerate(records):
        for message in record["messages"]:
            if number % 3 == 0:
                message["strategy"] = {"name": "Question", "votes": [number, 2]}
    agent_turn = next(r["messages"][1] for r in records if len(r["messages"]) > 1)
    agent_turn["content"] += " \u2028 next"
    path = logs.with_name("gold.jsonl")
    path.write_text("".join(json.dumps(record) + "\n" for record in records))
    return path


def jsonl_records(path) -> list[dict]:
    with open(path, encoding="utf-8") as handle:       # lines end at \n only, unlike str.splitlines()
        return [json.loads(line) for line in handle]


def shard_records(folder) -> dict[tuple[str, int], dict]:
    """The records of a shard folder, by (dialogue_id, turn_index), read as a user would: json or pyarrow
    (Parquet keeps `gold` and the `scored_by` signature as JSON text, gold null when absent)."""
    if folder.name.endswith(".parquet"):
        import pyarrow.parquet as pq
        records = pq.read_table(folder).to_pylist()
        for record in records:
            gold = record.pop("gold")
            record.update({"gold": json.loads(gold)} if gold is not None else {})
            record["scored_by"] = json.loads(record["scored_by"])
    else:
        records = [record for path in folder.iterdir() for record in jsonl_records(path)]
    by_turn = {(r["dialogue_id"], r["turn_index"]): r for r in records}
    assert len(by_turn) == len(records)
    return by_turn


@pytest.mark.ray
@needs_ray
@pytest.mark.parametrize("folder", ["shards", "shards.parquet"])
def test_shards_hold_the_local_records_and_the_summary_is_the_local_one(cluster, score_cli, logs_with_gold,
                                                                       tmp_path, monkeypatch, folder):
    from empathy_metric.distributed import shards
    monkeypatch.setattr(shards, "SHARD_MIN_ROWS", 400)       # several shards from this input
    args = (logs_with_gold, "--include-text")
    assert score_cli(*args, "--workers", "1", "-o", tmp_path / "turns.jsonl",
                     "-o", tmp_path / "local.json").exit_code == 0
    result = score_cli(*args, "--engine", "ray", "--workers", "2", "-o", f"{tmp_path / folder}/",
                       "-o", tmp_path / "ray.json")
    assert result.exit_code == 0, result.output
    assert len(list((tmp_path / folder).iterdir())) > 1
    local = {(r["dialogue_id"], r["turn_index"]): r for r in jsonl_records(tmp_path / "turns.jsonl")}
    assert shard_records(tmp_path / folder) == local
    assert (tmp_path / "ray.json").read_bytes() == (tmp_path / "local.json").read_bytes()


@pytest.mark.scoring
def test_a_shard_folder_that_holds_files_is_refused(score_cli, logs, tmp_path):
    """Before the extra is needed, the model loads or a cluster starts."""
    (tmp_path / "shards").mkdir()
    (tmp_path / "shards" / "old.jsonl").write_text("{}\n")
    result = score_cli(logs, "--engine", "ray", "-o", f"{tmp_path}/shards/")
    assert (result.exit_code, result.stderr) == (2, f"error: -o {tmp_path}/shards/: the folder holds files "
                                                    "already; give a new or empty folder (shards of two runs would mix)\n")


@pytest.mark.scoring
def test_a_shard_folder_takes_the_per_turn_records_alone(score_cli, tmp_path):
    """Checked before the extra or the model is needed."""
    result = score_cli(SAMPLE, "--engine", "ray", "-o", f"{tmp_path}/shards/", "-o", tmp_path / "t.csv")
    assert (result.exit_code, result.stderr) == (
        2, f"error: -o {tmp_path / 't.csv'}: not with the shard folder -o {tmp_path}/shards/: the per-turn records "
           "stay on the cluster, and it would need them here\n")
    assert not (tmp_path / "shards").exists()


@pytest.mark.scoring
def test_engine_ray_without_the_extra_is_one_line_naming_it(tmp_path):
    """ray hidden from the interpreter: exit 2 before the model is loaded (it does not exist)."""
    code = "import sys; sys.modules['ray'] = None; from empathy_metric.cli.main import main; main(sys.argv[1:])"
    done = subprocess.run([sys.executable, "-c", code, "score", str(SAMPLE), "--engine", "ray",
                           "-m", str(tmp_path / "no-model")], capture_output=True, text=True)
    assert (done.returncode, done.stderr) == (
        2, "error: --engine ray needs the 'ray' extra (Ray Data): pip install 'empathy-metric[ray]'\n")
