"""The Ray Data engine on a real local Ray cluster (`ray.init(num_cpus=2)`): `score --engine ray` writes
the local engine's bytes; `score_dataset` gives the local per-turn records and `summarize` the local
summary; without the extra, `--engine ray` is one line naming it (exit 2)."""
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


@pytest.mark.scoring
def test_engine_ray_without_the_extra_is_one_line_naming_it(tmp_path):
    """ray hidden from the interpreter: exit 2 before the model is loaded (it does not exist)."""
    code = "import sys; sys.modules['ray'] = None; from empathy_metric.cli.main import main; main(sys.argv[1:])"
    done = subprocess.run([sys.executable, "-c", code, "score", str(SAMPLE), "--engine", "ray",
                           "-m", str(tmp_path / "no-model")], capture_output=True, text=True)
    assert (done.returncode, done.stderr) == (
        2, "error: --engine ray needs the 'ray' extra (Ray Data): pip install 'empathy-metric[ray]'\n")
