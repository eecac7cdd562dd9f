"""`empathy-score compare`: pairing by dialogue id, unpaired ids reported, saved per-turn outputs
and logs give the same deltas, --max-drop gates respect each metric's direction."""
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


@pytest.fixture(scope="module")
def logs(tmp_path_factory):
    """Baseline = the sample logs; candidate = another bot's replies, one dialogue gone, one new."""
    folder = tmp_path_factory.mktemp("logs")
    records = [json.loads(line) for line in SAMPLE.read_text().splitlines() if line.strip()]
    candidate = []
    for record in records[1:]:
        for message in record["messages"]:
            if message["role"] == "assistant":
                message["content"] = "please send a photo of the item ."
        candidate.append(record)
    candidate.append({"id": "new-001", "messages": [{"role": "user", "content": "hello"},
                                                    {"role": "assistant", "content": "hi , how are you ?"}]})
    path = folder / "candidate.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in candidate))
    return {"baseline": SAMPLE, "candidate": path, "ids": [r["id"] for r in records]}


@pytest.fixture(scope="module")
def saved(tiny_bundle, logs, tmp_path_factory):
    """Per-turn outputs of `score` for both logs."""
    folder = tmp_path_factory.mktemp("saved")
    paths = {}
    for side in ("baseline", "candidate"):
        paths[side] = folder / f"{side}.jsonl"
        result = run("score", logs[side], "-m", tiny_bundle, "-q", "-o", paths[side])
        assert result.exit_code == 0, result.output
    return paths


def compare(bundle, baseline, candidate, tmp_path, *args):
    out = tmp_path / "compare.json"
    model = ["-m", bundle] if bundle else []
    result = run("compare", baseline, candidate, *model, "-o", out, *args)
    return result, (json.loads(out.read_text()) if out.exists() else None)


def test_pairs_by_id_and_reports_unpaired_ids(tiny_bundle, logs, tmp_path):
    result, data = compare(tiny_bundle, logs["baseline"], logs["candidate"], tmp_path)
    assert result.exit_code == 0, result.output
    assert data["pairing"] == {"n_paired": 4,
                               "only_in_baseline": {"count": 1, "first": ["support-001"]},
                               "only_in_candidate": {"count": 1, "first": ["new-001"]}}
    assert ("paired 4 dialogues by id; 1 only in baseline (support-001); 1 only in candidate (new-001)"
            in result.stderr)
    entry = data["metrics"][METRIC]
    assert entry["n_dialogues"] == 4 and entry["direction"] == "higher"
    assert entry["delta"] == pytest.approx(entry["candidate"] - entry["baseline"], abs=1e-12)
    assert entry["ci_low"] <= entry["delta"] <= entry["ci_high"]
    assert data["baseline"]["kind"] == data["candidate"]["kind"] == "log"


def test_baseline_means_are_those_of_the_paired_dialogues(tiny_bundle, logs, saved, tmp_path):
    summary = tmp_path / "baseline.json"
    assert run("score", logs["baseline"], "-m", tiny_bundle, "-q", "-o", summary).exit_code == 0
    rows = {d["dialogue_id"]: d["metrics"][METRIC] for d in json.loads(summary.read_text())["dialogues"]}
    _, data = compare(tiny_bundle, logs["baseline"], logs["candidate"], tmp_path)
    paired = [rows[i] for i in logs["ids"][1:]]
    assert data["metrics"][METRIC]["baseline"] == pytest.approx(sum(paired) / len(paired), abs=1e-12)


def test_saved_outputs_give_the_same_comparison_as_logs(tiny_bundle, logs, saved, tmp_path):
    _, from_logs = compare(tiny_bundle, logs["baseline"], logs["candidate"], tmp_path)
    _, mixed = compare(tiny_bundle, saved["baseline"], logs["candidate"], tmp_path)
    _, from_saved = compare(None, saved["baseline"], saved["candidate"], tmp_path)   # tasks read from files
    assert mixed["baseline"]["kind"] == "scores" and from_saved["signature"] is None
    for data in (mixed, from_saved):
        assert data["pairing"] == from_logs["pairing"]
        for name, entry in from_logs["metrics"].items():
            for key in ("baseline", "candidate", "delta", "ci_low", "ci_high"):
                assert data["metrics"][name][key] == pytest.approx(entry[key], abs=1e-9), (name, key)


def _shifted(saved_path, out_path, change):
    """A candidate made by editing saved per-turn records: `change(record, dialogue_number)`."""
    lines, order = [], {}
    for line in saved_path.read_text().splitlines():
        record = json.loads(line)
        change(record, order.setdefault(record["dialogue_id"], len(order)))
        lines.append(json.dumps(record))
    out_path.write_text("\n".join(lines) + "\n")
    return out_path


def test_max_drop_judged_on_ci_or_mean(saved, tmp_path):
    def drop(record, k):               # dialogue k loses 0.02 * k of perceived empathy on every turn
        record["perceived"][METRIC.split(".")[1]] -= 0.02 * k
    candidate = _shifted(saved["baseline"], tmp_path / "worse.jsonl", drop)
    result, data = compare(None, saved["baseline"], candidate, tmp_path, "--max-drop", f"{METRIC}=0.05",
                           "-o", tmp_path / "gates.junit.xml")
    entry = data["metrics"][METRIC]
    assert entry["delta"] == pytest.approx(-0.04, abs=1e-9)      # mean of 0, .02, .04, .06, .08
    assert entry["ci_low"] < -0.05 < entry["delta"]
    assert result.exit_code == 1
    assert result.stderr.splitlines()[-1].startswith(f"FAIL {METRIC} delta ci_low=")
    assert data["gates"][0]["passed"] is False
    case = ET.parse(tmp_path / "gates.junit.xml").getroot().find("testsuite/testcase")
    assert case.get("name") == f"--max-drop {METRIC}=0.05" and case.find("failure") is not None
    by_mean, _ = compare(None, saved["baseline"], candidate, tmp_path, "--max-drop", f"{METRIC}=0.05",
                         "--gate-on", "mean")
    assert by_mean.exit_code == 0 and f"PASS {METRIC} delta mean=" in by_mean.stderr
    loose, _ = compare(None, saved["baseline"], candidate, tmp_path, "--max-drop", f"{METRIC}=0.1")
    assert loose.exit_code == 0


def test_max_drop_respects_lower_is_better(saved, tmp_path):
    def exploring(record, k):          # baseline: odd dialogues explore strongly, even ones not at all
        record["labels"]["emh_explorations"] = "strong" if k % 2 else "none"

    def no_exploration(record, k):     # candidate: no exploration anywhere
        record["labels"]["emh_explorations"] = "none"
    baseline = _shifted(saved["baseline"], tmp_path / "exploring.jsonl", exploring)
    candidate = _shifted(saved["baseline"], tmp_path / "flat.jsonl", no_exploration)
    _, data = compare(None, baseline, candidate, tmp_path)
    rise = data["metrics"]["emh_explorations.rate.none"]
    assert rise["direction"] == "lower" and rise["delta"] == pytest.approx(2 / 5)
    failed, _ = compare(None, baseline, candidate, tmp_path, "--max-drop",
                        "emh_explorations.rate.none=0.05", "--gate-on", "mean")
    assert failed.exit_code == 1 and "delta mean=0.4000 > 0.0500" in failed.stderr
    assert compare(None, baseline, candidate, tmp_path, "--max-drop", "emh_explorations.rate.none=0.5",
                   "--gate-on", "mean")[0].exit_code == 0
    # the reverse change is an improvement of a lower-is-better rate: no drop at all
    assert compare(None, candidate, baseline, tmp_path, "--max-drop", "emh_explorations.rate.none=0",
                   "--gate-on", "mean")[0].exit_code == 0
    # read as a higher-is-better metric, the same change is a drop too: mean_level fell by 0.8
    level, _ = compare(None, baseline, candidate, tmp_path, "--max-drop",
                       "emh_explorations.mean_level=0.5", "--gate-on", "mean")
    assert level.exit_code == 1 and "delta mean=-0.8000 < -0.5000" in level.stderr


def test_max_drop_on_a_descriptive_metric_is_a_usage_error(saved, tmp_path):
    result, _ = compare(None, saved["baseline"], saved["candidate"], tmp_path, "--max-drop",
                        "esconv_strategy.rate.question=0.1")
    assert result.exit_code == 2 and "descriptive" in result.stderr


def test_bad_saved_record_names_file_line_and_field(saved, tmp_path):
    def bad(record, k):
        if k == 2:
            record["labels"]["emh_explorations"] = "very strong"
    candidate = _shifted(saved["baseline"], tmp_path / "bad.jsonl", bad)
    result, _ = compare(None, saved["baseline"], candidate, tmp_path)
    assert result.exit_code == 3
    assert f"{candidate}:" in result.stderr and "'very strong' is not one of emh_explorations" in result.stderr


def test_no_common_dialogue_is_bad_input(saved, tmp_path):
    def rename(record, k):
        record["dialogue_id"] = f"other-{k}"
    candidate = _shifted(saved["baseline"], tmp_path / "renamed.jsonl", rename)
    result, _ = compare(None, saved["baseline"], candidate, tmp_path)
    assert result.exit_code == 3 and "no dialogue id is present in both" in result.stderr
