"""`empathy-score metrics`: the names a run produces, with directions as documented."""
import json
from pathlib import Path

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
    assert table.stdout.splitlines()[0].split() == ["metric", "better", "range", "r", "meaning"]
    assert "ships no measured validity" in table.stdout
    lines = table.stdout.splitlines()
    # headline first: the perceived group heads the table, its leaves indented under it
    assert lines[2].strip() == "perceived." and lines[3].startswith("  empathy ") and " higher " in lines[3]
    assert max(len(line.rstrip()) for line in lines) <= 80
    missing = run("metrics", "-m", tmp_path / "nowhere")
    assert missing.exit_code == 4 and "not found" in missing.stderr


def test_validity_from_the_manifest_is_shown_and_flags_weak_metrics(tiny_bundle, tmp_path):
    import shutil
    folder = Path(shutil.copytree(tiny_bundle, tmp_path / "measured"))
    manifest = json.loads((folder / "manifest.json").read_text())
    manifest["validity"] = {"floor": 0.4, "measured_with": "empathy-score eval --record-validity",
                            "metrics": {"perceived.empathy": {"dialogue_r": 0.81, "dialogue_r_ci": [0.7, 0.9],
                                                              "n_dialogues": 97, "data": "WASSA dev"},
                                        "esconv_strategy.rate.question": {"dialogue_r": 0.12, "n_dialogues": 195,
                                                                          "data": "ESConv valid"}}}
    (folder / "manifest.json").write_text(json.dumps(manifest))
    table = run("metrics", "-m", folder).stdout.splitlines()
    assert any(line.startswith("  empathy ") and " 0.81 " in line for line in table)
    assert any(line.startswith("  question ") and " 0.12! " in line for line in table)
    listed = json.loads(run("metrics", "-m", folder, "--json").stdout)["metrics"]
    by_name = {m["name"]: m for m in listed}
    assert by_name["perceived.empathy"]["validity"]["dialogue_r_ci"] == [0.7, 0.9]
    assert by_name["perceived.helpfulness"]["validity"] is None


def with_references(tiny_bundle, tmp_path):
    import shutil
    folder = Path(shutil.copytree(tiny_bundle, tmp_path / "referenced"))
    manifest = json.loads((folder / "manifest.json").read_text())
    manifest["references"] = {"metrics": {"perceived.empathy": [
        {"name": "human supporters", "value": 0.338, "ci": [0.333, 0.344], "source": "ESConv valid.json"},
        {"name": "canned bot", "value": 0.145, "ci": [0.143, 0.147], "source": "ESConv valid.json, canned"},
        {"name": "broken"}, "not an object"]}}
    (folder / "manifest.json").write_text(json.dumps(manifest))
    return folder


def test_references_are_listed_per_metric_and_shown_within_80_columns(tiny_bundle, tmp_path):
    folder = with_references(tiny_bundle, tmp_path)
    listed = {m["name"]: m for m in json.loads(run("metrics", "-m", folder, "--json").stdout)["metrics"]}
    # malformed points are dropped, the rest sorted by value
    assert [p["name"] for p in listed["perceived.empathy"]["references"]] == ["canned bot", "human supporters"]
    assert listed["perceived.empathy"]["references"][1] == {"name": "human supporters", "value": 0.338,
                                                           "ci": [0.333, 0.344], "source": "ESConv valid.json"}
    assert listed["perceived.helpfulness"]["references"] == []
    table = run("metrics", "-m", folder).stdout
    assert "reference points: canned bot 0.14 human supporters 0.34" in " ".join(table.split())
    assert any(line.rstrip().endswith("  canned bot 0.14") for line in table.splitlines())
    assert max(len(line.rstrip()) for line in table.splitlines()) <= 80
    assert "…" not in table


def test_json_help_says_what_it_returns():
    text = " ".join(run("metrics", "--help").stdout.split())
    assert "JSON object" in text and "references" in text and "JSON list" not in text


def test_shipped_bundles_carry_measured_references():
    for name in ("minilm-empathy-v5", "minilm-empathy-v5-fast"):
        manifest = load_bundle(name, verify=False).manifest
        points = {p["name"]: p for p in manifest["references"]["metrics"]["perceived.empathy"]}
        assert {"canned bot", "curt bot", "off-topic bot", "human supporters", "WASSA raters"} <= set(points)
        for point in points.values():
            assert point["ci"][0] <= point["value"] <= point["ci"][1] and point["source"]
        # the releases order as a perceived-empathy metric must order them
        assert points["canned bot"]["value"] < points["curt bot"]["value"] < points["human supporters"]["value"]
        assert "--record-references" in manifest["references"]["measured_with"]
