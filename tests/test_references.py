"""`empathy-score eval --record-references`: the reference points written into a bundle's manifest
are what `score` reports for the releases research/perceived/make_releases.py writes, and the WASSA
raters' own mean rating / 5; `metrics` then shows them."""
import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from builders import build_data_dir
from empathy_metric.bundle import load_bundle
from empathy_metric.cli.main import cli
from empathy_metric.training.references import RELEASES
from empathy_metric.training.wassa import read_wassa

ROOT = Path(__file__).resolve().parents[1]
# make_releases.py's file for each reference release
FILES = {"canned bot": "canned", "curt bot": "curt", "off-topic bot": "off_topic", "human supporters": "base"}


def run(*args):
    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)


@pytest.fixture(scope="module")
def recorded(tiny_bundle, tmp_path_factory):
    work = tmp_path_factory.mktemp("references")
    data = build_data_dir(work / "data", dialogues=12)
    bundle = Path(shutil.copytree(tiny_bundle, work / "bundle"))
    result = run("eval", "-m", bundle, "--data", data, "--record-references", "--bootstrap", "200", "--seed", "3")
    assert result.exit_code == 0, result.output
    return work, data, bundle


def test_references_equal_what_score_reports_for_each_release(recorded):
    work, data, bundle = recorded
    block = load_bundle(bundle).manifest["references"]          # the bundle still verifies
    assert block["measured_with"].endswith("--record-references")
    releases = work / "releases"
    subprocess.run([sys.executable, str(ROOT / "research/perceived/make_releases.py"),
                    str(data / "esconv/valid.json"), str(releases)], check=True, capture_output=True)
    for dim in ("empathy", "helpfulness"):
        points = {p["name"]: p for p in block["metrics"][f"perceived.{dim}"]}
        assert set(RELEASES) <= set(points)
        assert [p["value"] for p in block["metrics"][f"perceived.{dim}"]] == \
            sorted(p["value"] for p in points.values())
        for name, stem in FILES.items():
            summary = work / f"{stem}.json"
            assert run("score", releases / f"{stem}.jsonl", "-m", bundle, "-q", "--bootstrap", "200", "--seed", "3",
                       "-o", summary).exit_code == 0
            corpus = json.loads(summary.read_text())["corpus"][f"perceived.{dim}"]
            assert points[name]["value"] == corpus["mean"]
            assert points[name]["ci"] == [corpus["ci_low"], corpus["ci_high"]]
            assert points[name]["source"].startswith("ESConv valid.json, 4 dialogues")


def test_the_rating_scale_point_is_the_raters_mean_over_five(recorded):
    _, data, bundle = recorded
    block = load_bundle(bundle).manifest["references"]
    wassa = {p["name"]: p for p in block["metrics"]["perceived.empathy"]}["WASSA raters"]
    means = [np.mean(ratings) / 5 for _, ratings in read_wassa(data / "wassa23", "dev")]
    assert wassa["value"] == pytest.approx(np.mean(means), abs=1e-12)
    assert wassa["ci"][0] <= wassa["value"] <= wassa["ci"][1]
    assert "WASSA raters" not in {p["name"] for p in block["metrics"]["perceived.helpfulness"]}
    assert "perceived.empathy" in block["scales"] and "/ 5" in block["scales"]["perceived.empathy"]


def test_metrics_shows_what_was_recorded(recorded):
    bundle = recorded[2]
    listed = {m["name"]: m for m in json.loads(run("metrics", "-m", bundle, "--json").stdout)["metrics"]}
    assert {p["name"] for p in listed["perceived.empathy"]["references"]} == set(RELEASES) | {"WASSA raters"}


def test_references_need_the_data(tiny_bundle):
    result = run("eval", "-m", tiny_bundle, "--heldout", __file__, "--record-references")
    assert result.exit_code == 2 and "--record-references measures on the shared data: give --data" in result.stderr
