"""`perceived.understanding` in the shipped default model: the real bundle on real ONNX Runtime scores
a reply that engages with this person's situation above generic lines (the held-out "eval" sets),
its head was validated against its numpy twin, and -m fast, which lacks it, refuses a gate on it."""
import json

import pytest
from click.testing import CliRunner

from empathy_metric.api import Scorer
from empathy_metric.bundle import load_bundle
from empathy_metric.cli.main import cli

pytestmark = pytest.mark.scoring

SEEKER = "I was laid off last week after eleven years at the same factory, and I still haven't told my kids."
SPECIFIC = ("Eleven years is a long time to give one place, so losing it must feel like losing part of your "
            "routine and identity. What makes telling your kids feel so hard right now?")
GENERIC = ("I'm sorry. That must be overwhelming.", "I can tell this has been weighing on you, and I'm so sorry.",
           "How do you feel about that?")


@pytest.fixture(scope="module")
def scorer():
    return Scorer.from_pretrained()


def understanding(scorer, reply):
    result = scorer.score([{"id": "d", "messages": [{"role": "user", "content": SEEKER},
                                                    {"role": "assistant", "content": reply}]}])
    return result.utterances[0].perceived["understanding"]


def test_a_specific_reply_scores_above_generic_lines(scorer):
    assert scorer.perceived[:3] == ["empathy", "helpfulness", "understanding"]
    specific = understanding(scorer, SPECIFIC)
    for line in GENERIC:
        assert understanding(scorer, line) < specific, line


def test_the_head_was_validated_and_left_the_other_outputs_alone():
    validation = load_bundle(None).manifest["export_validation"]["understanding_head"]
    assert validation["n_windows"] == 1000 and validation["max_abs_diff"] < 1e-5
    assert validation["other_outputs_byte_identical"] is True


def test_fast_lacks_the_dimension_and_a_gate_on_it_is_a_usage_error(tmp_path):
    logs = tmp_path / "logs.jsonl"
    logs.write_text(json.dumps({"messages": [{"role": "user", "content": SEEKER},
                                             {"role": "assistant", "content": SPECIFIC}]}) + "\n")
    result = CliRunner().invoke(cli, ["score", str(logs), "-m", "fast", "-q",
                                      "--fail-under", "perceived.understanding=0.5"])
    assert result.exit_code == 2
    assert "has no 'perceived.understanding'" in result.output and "-m fast does not" in result.output
