"""Gates on `empathy-score score`, through the real CLI on a real (tiny, random) ONNX bundle:
exit 1/0 on either side of a known value, ci vs mean, min-dialogues, JUnit XML, usage errors."""
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


def score(bundle, *args):
    return run("score", SAMPLE, "-m", bundle, "-q", *args)


@pytest.fixture(scope="module")
def known(tiny_bundle, tmp_path_factory):
    """The summary of the sample logs: the known values the gates are set around."""
    path = tmp_path_factory.mktemp("known") / "summary.json"
    result = score(tiny_bundle, "-o", path)
    assert result.exit_code == 0, result.output
    summary = json.loads(path.read_text())
    entry = summary["corpus"][METRIC]
    assert entry["ci_low"] < entry["mean"] < entry["ci_high"]       # the thresholds below need a gap
    return summary


def test_summary_has_ci_and_the_data_behind_each_number(known):
    assert known["bootstrap"] == {"unit": "dialogue", "n_resamples": 1000, "confidence": 0.95, "seed": 0,
                                  "method": "percentile"}
    for entry in known["corpus"].values():
        assert entry["n_dialogues"] == 5 and entry["n_turns"] == known["counts"]["turns_scored"]
        assert entry["ci_low"] <= entry["mean"] <= entry["ci_high"]


def test_fail_under_exits_0_below_and_1_above_the_known_value(tiny_bundle, known):
    entry = known["corpus"][METRIC]
    below = score(tiny_bundle, "--fail-under", f"{METRIC}={entry['ci_low'] - 0.01}")
    above = score(tiny_bundle, "--fail-under", f"{METRIC}={entry['mean'] + 0.01}")
    assert below.exit_code == 0 and below.stderr.startswith(f"PASS {METRIC} ci_low=")
    assert above.exit_code == 1 and above.stderr.startswith(f"FAIL {METRIC} ci_low=")
    assert "n=5 dialogues" in above.stderr


def test_fail_over_exits_0_above_and_1_below_the_known_value(tiny_bundle, known):
    entry = known["corpus"][METRIC]
    assert score(tiny_bundle, "--fail-over", f"{METRIC}={entry['ci_high'] + 0.01}").exit_code == 0
    failed = score(tiny_bundle, "--fail-over", f"{METRIC}={entry['mean'] - 0.01}")
    assert failed.exit_code == 1 and f"FAIL {METRIC} ci_high=" in failed.stderr


def test_gate_on_ci_and_mean_differ_inside_the_interval(tiny_bundle, known):
    entry = known["corpus"][METRIC]
    under = f"{METRIC}={(entry['ci_low'] + entry['mean']) / 2}"      # mean passes, CI bound does not
    over = f"{METRIC}={(entry['ci_high'] + entry['mean']) / 2}"
    assert score(tiny_bundle, "--fail-under", under).exit_code == 1
    assert score(tiny_bundle, "--fail-under", under, "--gate-on", "mean").exit_code == 0
    assert score(tiny_bundle, "--fail-over", over).exit_code == 1
    result = score(tiny_bundle, "--fail-over", over, "--gate-on", "mean")
    assert result.exit_code == 0 and result.stderr.startswith(f"PASS {METRIC} mean=")


def test_verdicts_summary_and_junit_come_from_one_evaluation(tiny_bundle, known, tmp_path):
    entry = known["corpus"][METRIC]
    summary, junit = tmp_path / "s.json", tmp_path / "gates.junit.xml"
    result = score(tiny_bundle, "-o", summary, "-o", junit,
                   "--fail-under", f"{METRIC}={entry['mean'] + 0.01}",
                   "--fail-over", "emh_explorations.rate.none=1")
    assert result.exit_code == 1
    gates = json.loads(summary.read_text())["gates"]
    assert [g["verdict"] for g in gates] == result.stderr.strip().splitlines()
    assert [g["passed"] for g in gates] == [False, True]
    assert gates[0]["judged_on"] == "ci_low" and gates[0]["judged_value"] == entry["ci_low"]
    root = ET.parse(junit).getroot()
    suite = root.find("testsuite")
    assert suite.get("tests") == "2" and suite.get("failures") == "1"
    cases = suite.findall("testcase")
    assert [c.get("name") for c in cases] == [g["option"] for g in gates]
    assert cases[0].find("failure").get("message") == gates[0]["verdict"]
    assert cases[1].find("failure") is None


def test_too_few_dialogues_fail_with_a_reason(tiny_bundle):
    result = score(tiny_bundle, "--fail-under", f"{METRIC}=0", "--min-dialogues", "6")
    assert result.exit_code == 1
    assert "FAIL perceived.empathy refused: 5 dialogues < --min-dialogues 6" in result.stderr


def test_bootstrap_is_reproducible_with_a_seed(tiny_bundle, tmp_path):
    # 20 dialogues (the sample 4 times under new ids): enough distinct resamples for seeds to differ
    records = [json.loads(line) for line in SAMPLE.read_text().splitlines() if line.strip()]
    logs = tmp_path / "logs.jsonl"
    logs.write_text("".join(json.dumps(dict(r, id=f"{r['id']}-{k}")) + "\n" for k in range(4) for r in records))
    first, again, other = tmp_path / "first.json", tmp_path / "again.json", tmp_path / "other.json"
    for path, seed in ((first, "0"), (again, "0"), (other, "1")):
        assert run("score", logs, "-m", tiny_bundle, "-q", "-o", path, "--seed", seed).exit_code == 0
    corpus = [json.loads(p.read_text())["corpus"] for p in (first, again, other)]
    assert corpus[0] == corpus[1]
    assert corpus[0][METRIC]["ci_low"] != corpus[2][METRIC]["ci_low"]
    assert corpus[0][METRIC]["mean"] == corpus[2][METRIC]["mean"]


@pytest.mark.parametrize("args, message", [
    (["--fail-under", "perceived.empathi=0.5"], "unknown metric 'perceived.empathi'; did you mean: "
                                                "perceived.empathy"),
    (["--fail-under", "perceived.empathy"], "expected METRIC=VALUE"),
    (["--fail-over", "perceived.empathy=high"], "'high' is not a number"),
    (["--fail-under", "perceived.empathy=0.5", "--bootstrap", "0"], "--gate-on ci needs confidence"),
])
def test_gate_usage_errors_exit_2(tiny_bundle, args, message):
    result = score(tiny_bundle, *args)
    assert result.exit_code == 2 and message in result.stderr


def test_mean_gates_work_without_bootstrap(tiny_bundle, tmp_path):
    summary = tmp_path / "s.json"
    result = score(tiny_bundle, "--bootstrap", "0", "--gate-on", "mean", "-o", summary,
                   "--fail-under", f"{METRIC}=0")
    assert result.exit_code == 0
    data = json.loads(summary.read_text())
    assert "ci_low" not in data["corpus"][METRIC] and data["bootstrap"]["n_resamples"] == 0


# ---- a gate on a metric of weak or unmeasured validity is flagged, never changed --------------------

@pytest.fixture(scope="module")
def measured_bundle(tiny_bundle, tmp_path_factory):
    """The tiny bundle with a manifest `validity` block: perceived.empathy below the floor,
    perceived.helpfulness above it."""
    import shutil

    from empathy_metric.bundle import record_manifest_key
    folder = tmp_path_factory.mktemp("measured") / "bundle"
    shutil.copytree(tiny_bundle, folder)
    record_manifest_key(folder, "validity", {"floor": 0.4, "metrics": {
        "perceived.empathy": {"dialogue_r": 0.12, "data": "test data"},
        "perceived.helpfulness": {"dialogue_r": 0.75, "data": "test data"}}})
    return folder


def test_a_gate_on_a_weak_metric_carries_a_warning_in_every_output(measured_bundle, tmp_path):
    summary, junit = tmp_path / "summary.json", tmp_path / "gates.junit.xml"
    result = score(measured_bundle, "-o", summary, "-o", junit, "--fail-under", f"{METRIC}=0",
                   "--fail-under", "perceived.helpfulness=0")
    assert result.exit_code == 0, result.output                  # a warning never fails the build
    weak, strong = result.stderr.strip().splitlines()
    assert weak.startswith(f"PASS {METRIC}") and "warning: perceived.empathy agrees weakly" in weak
    assert "r 0.12 < 0.4" in weak
    assert strong.startswith("PASS perceived.helpfulness") and "warning" not in strong
    gates = json.loads(summary.read_text())["gates"]
    assert "r 0.12" in gates[0]["validity_warning"] and gates[1]["validity_warning"] is None
    cases = ET.parse(junit).getroot().iter("testcase")
    assert "agrees weakly" in next(cases).find("system-out").text


def test_a_model_without_measured_validity_says_so_at_the_gate(tiny_bundle):
    result = score(tiny_bundle, "--fail-under", f"{METRIC}=0")
    assert result.exit_code == 0
    assert "warning: the model ships no measured validity for perceived.empathy" in result.stderr
