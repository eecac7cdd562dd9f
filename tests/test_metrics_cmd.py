"""`empathy-score metrics`: the names a run produces, with directions as documented."""
import json

import pytest
from click.testing import CliRunner

from conftest import SAMPLE
from empathy_metric.bundle import load_bundle
from empathy_metric.cli.main import cli
from empathy_metric.pipeline.aggregation import metric_names
from empathy_metric.reporting.metric_catalog import catalog
from empathy_metric.schemas import DEFAULT_TASKS, PERCEIVED_DIMENSIONS, customer_service_task

pytestmark = pytest.mark.scoring


def run(*args):
    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)


def test_lists_exactly_the_metrics_a_run_reports(tiny_bundle, tmp_path):
    listed = run("metrics", "--model", tiny_bundle, "--json")
    assert listed.exit_code == 0
    data = json.loads(listed.stdout)
    summary = tmp_path / "s.json"
    assert run("score", SAMPLE, "-m", tiny_bundle, "-q", "--bootstrap", "0", "-o", summary).exit_code == 0
    assert [m["name"] for m in data["metrics"]] == list(json.loads(summary.read_text())["corpus"])
    assert data["model"] == load_bundle(tiny_bundle).name
    assert all(m["meaning"] and m["range"] for m in data["metrics"])


def test_directions_follow_the_documented_rules(tiny_bundle):
    directions = {m["name"]: m["direction"]
                  for m in json.loads(run("metrics", "-m", tiny_bundle, "--json").stdout)["metrics"]}
    assert directions["perceived.empathy"] == "higher"
    assert directions["emh_interpretations.mean_level"] == "higher"
    assert directions["emh_interpretations.rate.none"] == "lower"
    assert directions["emh_interpretations.rate.weak"] == "none"
    assert directions["emh_interpretations.rate.strong"] == "higher"
    assert directions["esconv_strategy.rate.reflection_of_feelings"] == "none"
    assert set(directions.values()) <= {"higher", "lower", "none"}


def test_catalog_agrees_with_aggregation_for_every_schema():
    tasks = list(DEFAULT_TASKS) + [customer_service_task("express sympathy")]
    infos = catalog(tasks, list(PERCEIVED_DIMENSIONS))
    assert [i.name for i in infos] == metric_names(tasks, list(PERCEIVED_DIMENSIONS))
    assert {i.name: i.direction for i in infos}["cs_express_sympathy.rate.yes"] == "none"


def test_table_output_and_a_missing_model(tiny_bundle, tmp_path):
    table = run("metrics", "-m", tiny_bundle)
    assert table.exit_code == 0
    assert table.stdout.splitlines()[0].split() == ["metric", "better", "range", "meaning"]
    assert any(line.startswith("perceived.empathy ") and " higher " in line for line in table.stdout.splitlines())
    missing = run("metrics", "-m", tmp_path / "nowhere")
    assert missing.exit_code == 4 and "not found" in missing.stderr
