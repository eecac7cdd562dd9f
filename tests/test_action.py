"""The GitHub Action (action.yml): its shell step, action/run-gate.sh, run as a runner would run it,
with the GITHUB_OUTPUT and GITHUB_STEP_SUMMARY files of a simulated runner, the real CLI (the shipped
model) and the committed example logs; and action.yml's wiring of inputs, outputs and that step."""
import os
import re
import subprocess
import sys

import pytest
import yaml

from conftest import REPO, SAMPLE

SCRIPT = REPO / "action" / "run-gate.sh"
MARKER = "<!-- empathy-score-gate -->"


def run_action(tmp_path, **inputs):
    """run-gate.sh with INPUT_* set from `inputs`; -> (exit code, outputs dict, step summary, stderr)."""
    output, summary = tmp_path / "github_output", tmp_path / "step_summary"
    output.write_text("")
    summary.write_text("")
    env = {**os.environ, "PYTHONPATH": str(REPO), "GITHUB_OUTPUT": str(output), "GITHUB_STEP_SUMMARY": str(summary),
           "EMPATHY_SCORE": f"{sys.executable} -m empathy_metric.cli.main", "EMPATHY_PYTHON": sys.executable,
           "OUTPUT_DIR": str(tmp_path / "reports"), "INPUT_REPORT": "false"}
    env.update({f"INPUT_{k.upper()}": str(v) for k, v in inputs.items()})
    done = subprocess.run(["bash", str(SCRIPT)], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    outputs = dict(line.split("=", 1) for line in output.read_text().splitlines())
    return done.returncode, outputs, summary.read_text(), done.stderr


@pytest.mark.slow
def test_a_failing_gate_fails_the_step_with_summary_and_outputs(tmp_path):
    code, outputs, summary, stderr = run_action(tmp_path, logs=SAMPLE, args="--fail-under perceived.empathy=0.29")
    assert code == 1, stderr
    assert outputs["verdict"] == "fail" and outputs["exit-code"] == "1" and outputs["gates-failed"] == "1"
    assert outputs["perceived-empathy"] == "0.3196" and outputs["perceived-empathy-ci-low"] == "0.2583"
    assert summary.startswith("### empathy-score · ❌ FAIL: 1 of 1 gate failed")
    assert "`--fail-under perceived.empathy=0.29` | ❌ FAIL | ci_low | 0.2583 | 0.2900" in summary
    reports = tmp_path / "reports"
    assert {p.name for p in reports.iterdir()} >= {"turns.jsonl", "summary.json", "summary.md", "score.junit.xml",
                                                    "comment.md"}
    assert (reports / "comment.md").read_text().startswith(MARKER + "\n### empathy-score")


@pytest.mark.slow
def test_a_passing_release_with_a_baseline_runs_compare_too(tmp_path):
    gates = tmp_path / "gates.toml"
    gates.write_text('[fail-under]\n"perceived.empathy" = 0.25\n[max-drop]\n"perceived.empathy" = 0.02\n')
    code, outputs, summary, stderr = run_action(
        tmp_path, logs=SAMPLE, baseline=SAMPLE, gates=gates,
        args="--max-share 'perceived.empathy<0.2=0.5'", compare_args="--min-dialogues 5")
    assert code == 0, stderr
    assert outputs["verdict"] == "pass" and outputs["gates-failed"] == "0"
    assert summary.count("### empathy-score") == 2 and "empathy-score compare" in summary
    assert "`--max-share perceived.empathy<0.2=0.5` | ✅ PASS" in summary
    assert "`--max-drop perceived.empathy=0.02` | ✅ PASS" in summary
    assert (tmp_path / "reports" / "compare.junit.xml").exists()


def test_an_error_is_verdict_error_with_its_exit_code(tmp_path):
    code, outputs, summary, stderr = run_action(tmp_path, logs=tmp_path / "missing.jsonl")
    assert code == 3 and outputs["verdict"] == "error" and outputs["perceived-empathy"] == ""
    assert "missing.jsonl" in stderr and summary == ""


def test_action_yml_passes_every_input_the_script_reads():
    action = yaml.safe_load((REPO / "action.yml").read_text())
    assert action["runs"]["using"] == "composite"
    steps = {step.get("id") or step["name"]: step for step in action["runs"]["steps"]}
    gate = steps["gate"]
    assert gate["run"].strip() == 'bash "${{ github.action_path }}/action/run-gate.sh"'
    read = set(re.findall(r"\b(INPUT_[A-Z_]+)", SCRIPT.read_text()))
    assert read == {name for name in gate["env"] if name.startswith("INPUT_")}
    for name, value in gate["env"].items():
        if name.startswith("INPUT_"):
            input_name = name[len("INPUT_"):].lower().replace("_", "-")
            assert value in (f"${{{{ inputs.{input_name} }}}}", "${{ inputs.upload-report }}"), name
            assert input_name in action["inputs"] or name == "INPUT_REPORT"
    for name, output in action["outputs"].items():
        assert output["value"] == f"${{{{ steps.gate.outputs.{name} }}}}"
        assert f"{name}=" in SCRIPT.read_text() or name.startswith("perceived-empathy")
    install = steps["Install empathy-metric from the Action's own folder"]
    assert "github.action_path" in install["env"]["ACTION_PATH"] and "pip install" in install["run"]
    uses = {step.get("uses", "").split("@")[0] for step in action["runs"]["steps"]}
    assert {"actions/upload-artifact", "actions/github-script"} <= uses
    comment = next(s for s in action["runs"]["steps"] if s.get("uses", "").startswith("actions/github-script"))
    assert MARKER in comment["with"]["script"] and MARKER in SCRIPT.read_text()
