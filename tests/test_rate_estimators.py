"""A bundle whose tasks carry rate estimators (manifest `tasks[].rates`): rates come from calibrated
probabilities (pcc) or adjusted label shares (acc), per-turn labels stay the model's argmax, and a
resumed run aggregates exactly as a fresh one. Real CLI, real ORT, the committed tiny bundle."""
import json
import shutil

import numpy as np
import pytest

from conftest import SAMPLE
from empathy_metric.api import Scorer
from empathy_metric.bundle import load_bundle
from empathy_metric.errors import ModelError

pytestmark = pytest.mark.scoring


def _with_rates(bundle, folder, rates):
    target = shutil.copytree(bundle, folder)
    manifest = json.loads((target / "manifest.json").read_text())
    for task in manifest["tasks"]:
        if task["name"] in rates:
            task["rates"] = rates[task["name"]]
    (target / "manifest.json").write_text(json.dumps(manifest))
    return target


def test_pcc_rates_are_mean_calibrated_probabilities(tiny_bundle, tmp_path):
    k = 8
    pcc = {"estimator": "pcc", "scale": [0.5] * k, "bias": [1.0] + [0.0] * (k - 1)}
    records = [json.loads(line) for line in SAMPLE.read_text().splitlines()]
    plain = Scorer.from_pretrained(str(tiny_bundle)).score(records)
    folder = _with_rates(tiny_bundle, tmp_path / "pcc", {"esconv_strategy": pcc})
    result = Scorer.from_pretrained(str(folder)).score(records)
    for before, after in zip(plain.utterances, result.utterances):
        assert before.labels == after.labels                   # the decision rule is untouched
        assert before.probs["esconv_strategy"] != after.probs["esconv_strategy"]
    for dialogue in result.dialogues:
        probs = np.array([list(u.probs["esconv_strategy"].values()) for u in dialogue.utterances]).mean(0)
        assert dialogue.metrics["esconv_strategy.rate.question"] == pytest.approx(probs[0])


def test_acc_rates_undo_a_known_confusion_and_resume_alike(tiny_bundle, tmp_path, score_cli):
    confusion = np.full((3, 3), 0.1) + np.eye(3) * 0.7
    acc = {"estimator": "acc", "confusion": confusion.tolist()}
    folder = _with_rates(tiny_bundle, tmp_path / "acc", {"emh_explorations": acc})
    out, summary = tmp_path / "turns.jsonl", tmp_path / "summary.json"
    assert score_cli("score", SAMPLE, "-o", out, "-o", summary, model=folder).exit_code == 0
    turns = [json.loads(line) for line in out.read_text().splitlines()]
    first = json.loads(summary.read_text())
    for row in first["dialogues"]:
        mine = [t for t in turns if t["dialogue_id"] == row["dialogue_id"]]
        shares = np.array([np.mean([t["labels"]["emh_explorations"] == label for t in mine])
                           for label in ("none", "weak", "strong")])
        expected = np.linalg.solve(confusion.T, shares)
        assert row["metrics"]["emh_explorations.rate.strong"] == pytest.approx(expected[2])
    summary.unlink()
    assert score_cli("score", SAMPLE, "-o", out, "-o", summary, "--resume", model=folder).exit_code == 0
    again = json.loads(summary.read_text())
    assert again["corpus"] == first["corpus"] and again["counts"]["dialogues_resumed"] > 0


def test_unusable_rates_are_a_model_error(tiny_bundle, tmp_path):
    folder = _with_rates(tiny_bundle, tmp_path / "bad", {"esconv_strategy": {"estimator": "pcc", "scale": [1.0]}})
    with pytest.raises(ModelError, match="'rates' is not usable"):
        load_bundle(folder)
