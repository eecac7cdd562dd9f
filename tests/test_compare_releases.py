"""Signed scores and `compare BASE CAND [CAND ...]`: per-turn records carry the model and settings that
made them; `compare` refuses to pair scores of different models or settings (exit 2, naming both),
and compares several candidates against one baseline in one table, JSON, Markdown, JUnit and HTML."""
import json
import xml.etree.ElementTree as ET

import pytest
from click.testing import CliRunner

from conftest import SAMPLE
from empathy_metric.cli.main import cli

pytestmark = pytest.mark.scoring

METRIC = "perceived.empathy"


def run(*args):
    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)


def saved(bundle, path, *options):
    result = run("score", SAMPLE, "-m", bundle, "-q", "-o", path, *options)
    assert result.exit_code == 0, result.output
    return path


def test_every_per_turn_record_is_signed_with_model_and_settings(tiny_bundle, tmp_path):
    from empathy_metric.bundle import load_bundle
    path = saved(tiny_bundle, tmp_path / "turns.jsonl")
    records = [json.loads(line) for line in path.read_text().splitlines()]
    manifest_sha = load_bundle(tiny_bundle).signature()["manifest_sha256"]
    for record in records:
        assert record["scored_by"]["manifest_sha256"] == manifest_sha
        assert record["scored_by"]["settings"]["window"]["turns_after"] == 3
    realtime = saved(tiny_bundle, tmp_path / "realtime.jsonl", "--no-future-context")
    assert json.loads(realtime.read_text().splitlines()[0])["scored_by"]["settings"]["window"]["turns_after"] == 0


def test_compare_refuses_scores_of_two_models_naming_both(tiny_bundle, tiny_int8_bundle, tmp_path):
    fp32 = saved(tiny_bundle, tmp_path / "fp32.jsonl")
    int8 = saved(tiny_int8_bundle, tmp_path / "int8.jsonl")
    result = run("compare", fp32, int8)
    assert result.exit_code == 2
    message = result.stderr
    assert str(fp32) in message and str(int8) in message and "different models" in message
    assert "Give compare the two dialogue logs" in message
    # a saved file against a log that another model scores now: refused the same way
    mixed = run("compare", SAMPLE, int8, "-m", tiny_bundle)
    assert mixed.exit_code == 2 and "(a log, scored now)" in mixed.stderr


def test_compare_refuses_scores_of_other_settings(tiny_bundle, tmp_path):
    full = saved(tiny_bundle, tmp_path / "full.jsonl")
    realtime = saved(tiny_bundle, tmp_path / "realtime.jsonl", "--no-future-context")
    result = run("compare", full, realtime)
    assert result.exit_code == 2 and "different settings (window)" in result.stderr


def _worse(saved_path, out_path, drop):
    lines = []
    for line in saved_path.read_text().splitlines():
        record = json.loads(line)
        record["perceived"]["empathy"] -= drop
        lines.append(json.dumps(record))
    out_path.write_text("\n".join(lines) + "\n")
    return out_path


def test_several_candidates_one_verdict_exit_1_when_any_fails(tiny_bundle, tmp_path):
    base = saved(tiny_bundle, tmp_path / "base.jsonl")
    same = saved(tiny_bundle, tmp_path / "same.jsonl")
    worse = _worse(base, tmp_path / "worse.jsonl", 0.1)
    outputs = [tmp_path / n for n in ("c.json", "c.md", "c.junit.xml", "c.html")]
    args = ["compare", SAMPLE, same, worse, "-m", tiny_bundle, "--max-drop", f"{METRIC}=0.05"]
    result = run(*args, *[a for o in outputs for a in ("-o", o)])
    assert result.exit_code == 1, result.output
    data = json.loads(outputs[0].read_text())
    assert data["passed"] is False and data["baseline"]["input"] == str(SAMPLE)
    assert [c["candidate"]["input"] for c in data["candidates"]] == [str(same), str(worse)]
    assert [c["gates"][0]["passed"] for c in data["candidates"]] == [True, False]
    assert data["candidates"][1]["metrics"][METRIC]["delta"] == pytest.approx(-0.1, abs=1e-6)
    markdown = outputs[1].read_text()
    assert markdown.count("### empathy-score compare") == 2 and str(worse) in markdown
    cases = ET.parse(outputs[2]).getroot().findall("testsuite/testcase")
    assert [c.get("name") for c in cases] == [f"{same}: --max-drop {METRIC}=0.05", f"{worse}: --max-drop {METRIC}=0.05"]
    assert cases[1].find("failure") is not None and cases[0].find("failure") is None
    page = outputs[3].read_text()
    assert page.count("<iframe") == 2 and "srcdoc=" in page
    # the table on stdout: one per candidate; the verdicts on stderr
    table = run(*args)
    assert table.exit_code == 1
    assert f"{same} against {SAMPLE}" in table.stdout and f"{worse} against {SAMPLE}" in table.stdout
    assert table.stderr.count("PASS ") == 1 and table.stderr.count("FAIL ") == 1
    passing = run("compare", base, same, same)
    assert passing.exit_code == 0, passing.output


def test_compare_reads_max_drop_from_a_gates_file(tiny_bundle, tmp_path):
    base = saved(tiny_bundle, tmp_path / "base.jsonl")
    worse = _worse(base, tmp_path / "worse.jsonl", 0.1)
    gates = tmp_path / "gates.toml"
    gates.write_text(f'[fail-under]\n"{METRIC}" = 0.9\n[max-drop]\n"{METRIC}" = 0.05\n')
    result = run("compare", base, worse, "--gates", gates)
    assert result.exit_code == 1
    assert f"FAIL {METRIC} delta" in result.stderr and "--fail-under" not in result.stderr
