"""`perceived.relevance` in the shipped default model, on real ONNX Runtime: a reply scores higher in its
own conversation than the same reply in another one; the stage was validated against its PyTorch twin
and left every other output alone; a score never depends on its batch-mates; a bundle whose relevance
section or graph is broken is a ModelError (exit 4); -m fast, which lacks it, refuses a gate on it.
With ../shared/data beside the checkout, the README's relevance gate passes real ESConv supporters and
fails the same conversations answered with replies from other conversations (exit 1)."""
import json
import random
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from empathy_metric.api import Scorer
from empathy_metric.bundle import load_bundle, resolve_model_path, write_manifest
from empathy_metric.cli.main import cli
from empathy_metric.io.readers import ReaderOptions, read_dialogues
from empathy_metric.pipeline.encoding import CHARS_PER_TOKEN
from empathy_metric.training.data import AGENT_ROLES
from empathy_metric.training.perturbation_suite import perturbed

pytestmark = pytest.mark.scoring

VALID = Path(__file__).resolve().parents[2] / "shared" / "data" / "esconv" / "valid.json"
FIXTURES = Path(__file__).parent / "fixtures"
GATE = "perceived.relevance=0.5"          # the README's gate (research/gate/relevance_threshold.txt)
CONVERSATIONS = {
    "job": ("I was laid off last week after eleven years at the same factory, and I still haven't told my kids.",
            "Eleven years at one factory is a big part of your life. What worries you most about telling your kids?",
            "I guess I'm scared they'll think I failed them."),
    "exam": ("My final exam in organic chemistry is on Friday and I keep blanking on the reaction mechanisms.",
             "Mechanisms are hard to memorise. Have you tried drawing each one from memory and checking it?",
             "Not yet, I've mostly been rereading my notes."),
}


def dialogue(name, seeker, reply, answer):
    return {"id": name, "messages": [{"role": "user", "content": seeker}, {"role": "assistant", "content": reply},
                                     {"role": "user", "content": answer}]}


@pytest.fixture(scope="module")
def scorer():
    return Scorer.from_pretrained()


def relevance(scorer, records):
    return [u.perceived["relevance"] for u in scorer.score(records).utterances]


def test_a_reply_fits_its_own_conversation_better_than_another(scorer):
    assert scorer.perceived == ["empathy", "helpfulness", "understanding", "relevance"]
    (job_seeker, job_reply, job_answer), (exam_seeker, exam_reply, exam_answer) = CONVERSATIONS.values()
    own = relevance(scorer, [dialogue("a", job_seeker, job_reply, job_answer),
                             dialogue("b", exam_seeker, exam_reply, exam_answer)])
    swapped = relevance(scorer, [dialogue("a", job_seeker, exam_reply, job_answer),
                                 dialogue("b", exam_seeker, job_reply, exam_answer)])
    assert own[0] > 0.5 > swapped[0] and own[1] > 0.5 > swapped[1], (own, swapped)


def test_a_score_does_not_depend_on_its_batch_mates(scorer):
    alone = relevance(scorer, [dialogue("a", *CONVERSATIONS["job"])])
    together = relevance(scorer, [dialogue("b", *CONVERSATIONS["exam"]), dialogue("a", *CONVERSATIONS["job"])])
    assert alone[0] == together[1]


def test_only_the_beginning_of_a_long_turn_is_read(scorer):
    seeker, reply, answer = CONVERSATIONS["job"]
    long = reply + " " + "and then I kept talking about it " * 40_000          # 1.3 MB
    keep = load_bundle(None).manifest["relevance"]["max_tokens"] * CHARS_PER_TOKEN
    whole = relevance(scorer, [dialogue("a", seeker, long, answer)])
    cut = relevance(scorer, [dialogue("a", seeker, long[:keep], answer)])
    assert whole == cut


def test_a_reply_with_no_turn_around_it_scores_the_midpoint(scorer):
    alone = relevance(scorer, [{"id": "x", "messages": [{"role": "assistant", "content": "Hello there."}]}])
    assert alone == [0.5]


def test_the_stage_was_validated_and_left_the_other_outputs_alone():
    validation = load_bundle(None).manifest["export_validation"]["relevance_stack"]
    assert validation["n_windows"] == 1000 and validation["other_outputs_byte_identical"] is True
    assert validation["max_abs_diff"] < 0.08 and validation["embedding_cosine_int8_vs_fp32"]["mean"] > 0.99


def bundle_copy(tmp_path, source, relevance, files=None):
    folder = tmp_path / "bundle"
    shutil.copytree(source, folder)
    manifest = json.loads((folder / "manifest.json").read_text())
    manifest["relevance"] = relevance
    manifest["files"].update(files or {})
    write_manifest(folder, manifest)
    return folder


def score_with(folder, tmp_path):
    logs = tmp_path / "logs.jsonl"
    logs.write_text(json.dumps(dialogue("a", *CONVERSATIONS["job"])) + "\n")
    return CliRunner().invoke(cli, ["score", str(logs), "-m", str(folder), "-q"])


def test_an_unusable_relevance_section_is_a_model_error(tmp_path):
    folder = bundle_copy(tmp_path, resolve_model_path(None), {"max_tokens": 48, "mix": "x"})
    result = score_with(folder, tmp_path)
    assert result.exit_code == 4 and "manifest 'relevance' is not usable" in result.output


USABLE = {"max_tokens": 48, "mix": [1, 1], "calibration": [1, 0]}


def test_a_relevance_section_without_its_graph_is_a_model_error(tmp_path):
    result = score_with(bundle_copy(tmp_path, FIXTURES / "tiny-int8-bundle", USABLE), tmp_path)
    assert result.exit_code == 4 and "no 'relevance' file listed" in result.output


def test_a_relevance_graph_without_the_text_output_is_a_model_error(tmp_path):
    folder = bundle_copy(tmp_path, FIXTURES / "tiny-int8-bundle", USABLE, {"relevance": "model.onnx"})
    result = score_with(folder, tmp_path)
    assert result.exit_code == 4 and "lacks output 'text_embedding'" in result.output


def test_fast_lacks_the_dimension_and_a_gate_on_it_is_a_usage_error(tmp_path):
    logs = tmp_path / "logs.jsonl"
    logs.write_text(json.dumps(dialogue("a", *CONVERSATIONS["job"])) + "\n")
    result = CliRunner().invoke(cli, ["score", str(logs), "-m", "fast", "-q", "--fail-under", GATE])
    assert result.exit_code == 2 and "has no 'perceived.relevance'" in result.output


@pytest.mark.slow
@pytest.mark.skipif(not VALID.is_file(), reason="needs ../shared/data/esconv/valid.json")
@pytest.mark.parametrize("kind, code", [("no_op", 0), ("off_topic", 1)])
def test_the_readme_gate_passes_real_supporters_and_fails_off_topic_replies(tmp_path, kind, code):
    dialogues = list(read_dialogues(str(VALID), ReaderOptions(format="esconv", agent_roles=AGENT_ROLES)))[:30]
    pool = [(d.dialogue_id, t.text) for d in dialogues for t in d.turns if t.role in AGENT_ROLES and t.text.strip()]
    path, summary = tmp_path / "release.jsonl", tmp_path / "summary.json"
    rng = random.Random(kind)
    with open(path, "w", encoding="utf-8") as handle:
        for number, d in enumerate(perturbed(d, kind, AGENT_ROLES, pool, rng) for d in dialogues):
            messages = [{"role": "assistant" if t.role in AGENT_ROLES else "user", "content": t.text} for t in d.turns]
            handle.write(json.dumps({"id": f"d{number}", "messages": messages}) + "\n")
    result = CliRunner().invoke(cli, ["score", str(path), "-q", "-o", str(summary), "--fail-under", GATE])
    assert result.exit_code == code, result.output
