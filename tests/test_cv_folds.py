"""Cross-validation one fold at a time (one process per fold on a GPU), merged, and soups under CV."""
import json

import pytest
from click.testing import CliRunner

from builders import build_data_dir, build_encoder_with_tokenizer
from empathy_metric.cli.main import cli
from empathy_metric.errors import UsageError
from empathy_metric.training.experiment import merge_cv_reports

TRAIN = ["--set", "epochs=1", "--set", "max_tokens=64", "--device", "cpu", "-k", "3"]


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("cv")
    return tmp, build_encoder_with_tokenizer(tmp / "base"), build_data_dir(tmp / "data", dialogues=9)


def _invoke(args):
    result = CliRunner().invoke(cli, [str(a) for a in args])
    assert result.exit_code == 0, result.output
    return result


def test_folds_run_apart_merge_into_the_whole_cv(setup):
    tmp, base, data = setup
    common = ["--set", f"base_model={base}", "--data", data, *TRAIN]
    _invoke(["cv", "-o", tmp / "all.json", *common])
    _invoke(["cv", "-o", tmp / "f13.json", "--fold", "1", "--fold", "3", *common])
    part = _invoke(["cv", "-o", tmp / "f2.json", "--fold", "2", *common])
    assert "1 of 3 folds; missing [1, 3]" in part.output
    assert json.loads((tmp / "f13.json").read_text())["missing_folds"] == [1]
    _invoke(["cv-merge", tmp / "f2.json", tmp / "f13.json", "-o", tmp / "merged.json"])

    whole, merged = (json.loads((tmp / f).read_text()) for f in ("all.json", "merged.json"))
    assert "missing_folds" not in merged
    assert [f["fold"] for f in merged["folds"]] == [0, 1, 2]
    # Same seeds, same data: each fold apart gives what it gave inside the whole run.
    for a, b in zip(whole["folds"], merged["folds"]):
        assert a["means"].keys() == b["means"].keys()
        for group in a["means"]:
            assert a["means"][group]["f1"] == pytest.approx(b["means"][group]["f1"], abs=1e-6)
    assert merged["means"]["ESConv"]["f1"] == pytest.approx(whole["means"]["ESConv"]["f1"], abs=1e-6)


def test_merge_refuses_overlapping_folds_and_different_splits():
    fold = {"fold": 0, "means": {}}
    with pytest.raises(UsageError, match="more than one report"):
        merge_cv_reports([{"k": 5, "seed": 1, "folds": [fold]}, {"k": 5, "seed": 1, "folds": [fold]}])
    with pytest.raises(UsageError, match="different splits"):
        merge_cv_reports([{"k": 5, "seed": 1, "folds": [fold]}, {"k": 3, "seed": 1, "folds": []}])


def test_soup_of_saved_folds_is_cross_validated_without_training(setup):
    tmp, base, data = setup
    common = ["--set", f"base_model={base}", "--data", data, *TRAIN]
    for name, seed in (("a", 1), ("b", 2)):
        _invoke(["cv", "-o", tmp / f"{name}.json", "--save-folds", tmp / name, "--seed", seed, *common])
        assert sorted(p.name for p in (tmp / name).iterdir()) == ["fold-0", "fold-1", "fold-2"]
        config = json.loads((tmp / name / "fold-1" / "empathy_config.json").read_text())
        assert config["splits"]["cv_fold"] == 1 and "calibration_bias" in config

    # The soup of a run with itself is that run (calibration is taken out and fitted again).
    _invoke(["cv", "-o", tmp / "aa.json", "--average-from", tmp / "a", "--average-from", tmp / "a",
             "--data", data, "-k", "3"])
    a, aa = (json.loads((tmp / f).read_text()) for f in ("a.json", "aa.json"))
    assert aa["averaged_from"] == [str(tmp / "a")] * 2
    for group in a["means"]:
        assert aa["means"][group]["f1"] == pytest.approx(a["means"][group]["f1"], abs=1e-4)

    _invoke(["cv", "-o", tmp / "ab.json", "--average-from", tmp / "a", "--average-from", tmp / "b",
             "--data", data, "-k", "3", "--fold", "2"])
    ab = json.loads((tmp / "ab.json").read_text())
    assert [f["fold"] for f in ab["folds"]] == [1] and ab["missing_folds"] == [0, 2]


def test_one_data_set_keeps_its_folds_and_only_its_heads(setup):
    tmp, base, data = setup
    common = ["--set", f"base_model={base}", "--data", data, *TRAIN]
    _invoke(["cv", "-o", tmp / "both.json", *common])
    _invoke(["cv", "-o", tmp / "emh.json", "--data-set", "emh", "--save-folds", tmp / "emh", *common])
    both, emh = (json.loads((tmp / f).read_text()) for f in ("both.json", "emh.json"))
    assert list(emh["means"]) == ["EMH"]
    for a, b in zip(both["folds"], emh["folds"]):
        assert set(b["tasks"]) == {"emh_emotional_reactions", "emh_interpretations", "emh_explorations"}
        assert "perceived" not in b
        assert list(b["uncalibrated"]) == ["EMH"]      # each fold also reports its uncalibrated means
        for task in b["tasks"]:      # the same pairs are tested in each fold with or without ESConv
            assert b["tasks"][task]["mean"]["n"] == a["tasks"][task]["mean"]["n"]
    config = json.loads((tmp / "emh" / "fold-0" / "empathy_config.json").read_text())
    assert [t["name"] for t in config["tasks"]] == ["emh_emotional_reactions", "emh_interpretations",
                                                     "emh_explorations"]
    assert config["perceived"] == []


def test_train_on_one_data_set_reports_only_its_tests(setup):
    tmp, base, data = setup
    _invoke(["train", "-o", tmp / "esconv-only", "--data-set", "esconv", "--set", f"base_model={base}",
             "--data", data, "--set", "epochs=1", "--set", "max_tokens=64", "--device", "cpu"])
    report = json.loads((tmp / "esconv-only" / "eval.json").read_text())
    assert "esconv_valid" in report and "emh_test" not in report
    assert report["calibration"] == "prior"
    assert list(report["esconv_valid"]["tasks"]) == ["esconv_strategy"]
    assert "perceived" in report["esconv_valid"]


def test_average_of_one_data_set_models_reports_that_data_set(setup):
    tmp, base, data = setup
    for seed in (1, 2):
        _invoke(["train", "-o", tmp / f"emh-{seed}", "--data-set", "emh", "--seed", seed,
                 "--set", f"base_model={base}", "--data", data, "--set", "epochs=1", "--set", "max_tokens=64",
                 "--device", "cpu"])
    _invoke(["average", tmp / "emh-1", tmp / "emh-2", "-o", tmp / "emh-soup", "--data", data,
             "--calibration", "search"])
    report = json.loads((tmp / "emh-soup" / "eval.json").read_text())
    assert "emh_test" in report and "esconv_valid" not in report
    assert report["calibration"] == "search"
    _invoke(["average", tmp / "emh-1", tmp / "emh-2", "-o", tmp / "emh-raw", "--data", data, "--calibration", "none"])
    config = json.loads((tmp / "emh-raw" / "empathy_config.json").read_text())
    assert config["calibration"] == "none" and config["calibration_bias"] == {}


def test_cv_merge_refuses_what_is_no_cv_report(tmp_path):
    """Exit 2 without reports, 3 for a report that is missing or is not one (no traceback)."""
    merge = ["cv-merge", "-o", str(tmp_path / "merged.json")]
    result = CliRunner().invoke(cli, merge)
    assert result.exit_code == 2 and "Missing argument 'REPORTS...'" in result.stderr
    result = CliRunner().invoke(cli, [*merge, str(tmp_path / "cv-*.json")])       # a glob that matched nothing
    assert (result.exit_code, result.stderr) == (
        3, f"error: {tmp_path / 'cv-*.json'}: cannot open: No such file or directory\n")
    (tmp_path / "other.json").write_text('{"corpus": {}}')
    result = CliRunner().invoke(cli, [*merge, str(tmp_path / "other.json")])
    assert (result.exit_code, result.stderr) == (3, f"error: {tmp_path / 'other.json'}: not a report of "
                                                    "`empathy-score cv`\n")
