"""`python -m build` makes a wheel and an sdist that hold the shipped bundles, the evaluate module and
the report templates; the wheel installed in a clean virtual environment (its dependencies from the
package index, as a user's `pip install` gets them) scores the sample logs with the shipped model.

Built once per session, without build isolation (an isolated build would download setuptools): the
dev install has setuptools and `build` (requirements-dev.txt)."""
import json
import os
import subprocess
import sys
import tarfile
import zipfile

import pytest

from conftest import REPO, SAMPLE

pytestmark = pytest.mark.slow
SHIPPED = [f"empathy_metric/models/{name}/{file}" for name in ("minilm-empathy-v5", "minilm-empathy-v5-fast")
           for file in ("manifest.json", "model.onnx", "tokenizer.json", "README.md")]
BUNDLED = SHIPPED + ["empathy_metric/evaluate_module/empathy_metric/empathy_metric.py",
                     "empathy_metric/reporting/templates/score_report.html.j2",
                     "empathy_metric/reporting/templates/compare_report.html.j2"]


@pytest.fixture(scope="session")
def dist(tmp_path_factory):
    pytest.importorskip("build", reason="`python -m build` needs the 'build' package (requirements-dev.txt)")
    out = tmp_path_factory.mktemp("dist")
    done = subprocess.run([sys.executable, "-m", "build", "--no-isolation", "--outdir", str(out), str(REPO)],
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    wheels, sdists = list(out.glob("*.whl")), list(out.glob("*.tar.gz"))
    assert len(wheels) == 1 and len(sdists) == 1
    return wheels[0], sdists[0]


def test_wheel_and_sdist_hold_the_shipped_bundles(dist):
    wheel, sdist = dist
    in_wheel = set(zipfile.ZipFile(wheel).namelist())
    with tarfile.open(sdist) as archive:
        root = archive.getnames()[0].split("/")[0]
        in_sdist = {name[len(root) + 1:] for name in archive.getnames()}
    for name in BUNDLED:
        assert name in in_wheel, f"{name} not in the wheel"
        assert name in in_sdist, f"{name} not in the sdist"
    assert {"examples/sample_logs.jsonl", "action.yml", "action/run-gate.sh"} <= in_sdist
    assert not any(name.startswith(("cli/", "export/")) for name in in_wheel)   # no generic top-level packages


def test_the_wheel_installed_in_a_clean_venv_scores_the_sample_logs(dist, tmp_path):
    wheel, _ = dist
    # PYTHONPATH (a checkout, with its egg-info) would make pip believe the package is installed already
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
    pip = subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "install", "-q", str(wheel)],
                         capture_output=True, text=True, timeout=900, env=env)
    assert pip.returncode == 0, pip.stderr[-3000:]
    run = subprocess.run([str(venv / "bin" / "empathy-score"), str(SAMPLE), "-q", "-o", str(tmp_path / "s.json"),
                          "--fail-under", "perceived.empathy=0.25"],
                         cwd=tmp_path, capture_output=True, text=True, timeout=600, env=env)   # the wheel
    assert run.returncode == 0, run.stderr
    summary = json.loads((tmp_path / "s.json").read_text())
    assert summary["signature"]["model"] == "minilm-empathy-v5"
    assert summary["counts"]["turns_scored"] == 13 and summary["gates"][0]["passed"]
    where = subprocess.run([str(venv / "bin" / "python"), "-c", "import empathy_metric; print(empathy_metric.__file__)"],
                           cwd=tmp_path, capture_output=True, text=True, check=True, env=env).stdout
    assert str(venv) in where and "torch" not in subprocess.run(
        [str(venv / "bin" / "python"), "-m", "pip", "list"], capture_output=True, text=True, env=env).stdout
