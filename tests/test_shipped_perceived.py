"""The shipped models' perceived scores (the default and `fast`) on held-out support conversations (ESConv valid.json, beside
the checkout in ../shared/data; skipped without it): padding every reply with an irrelevant neutral
sentence must not raise the corpus score beyond its CI, and a canned release must lower it below its CI
(an off-topic one: the score that gates it). The real model, the real Scorer, the real bootstrap."""
import random
from pathlib import Path

import pytest

from empathy_metric.api import Scorer
from empathy_metric.io.readers import ReaderOptions, read_dialogues
from empathy_metric.reporting.statistics import BootstrapSettings
from empathy_metric.reporting.summary import DialogueRow, corpus_table
from empathy_metric.training.data import AGENT_ROLES
from empathy_metric.training.perturbation_suite import perturbed

VALID = Path(__file__).resolve().parents[2] / "shared" / "data" / "esconv" / "valid.json"
pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(not VALID.is_file(), reason="needs ../shared/data/esconv/valid.json")]


@pytest.fixture(scope="module", params=[None, "fast"], ids=["default", "fast"])
def releases(request):
    dialogues = list(read_dialogues(str(VALID), ReaderOptions(format="esconv", agent_roles=AGENT_ROLES)))
    pool = [(d.dialogue_id, t.text) for d in dialogues for t in d.turns if t.role.lower() in AGENT_ROLES]
    scorer = Scorer.from_pretrained(request.param, agent_roles=AGENT_ROLES)

    def corpus(kind):
        rng = random.Random(kind)
        result = scorer.score([perturbed(d, kind, AGENT_ROLES, pool, rng) for d in dialogues])
        rows = [DialogueRow(d.dialogue_id, d.n_turns, d.metrics) for d in result.dialogues]
        return corpus_table(rows, BootstrapSettings(n_resamples=500))
    return {kind: corpus(kind) for kind in ("no_op", "padded", "canned", "off_topic")}


@pytest.mark.parametrize("dim", ["perceived.empathy", "perceived.helpfulness"])
def test_padding_does_not_raise_the_corpus_score_beyond_its_ci(releases, dim):
    assert releases["padded"][dim]["mean"] <= releases["no_op"][dim]["ci_high"]


def test_a_canned_release_falls_below_the_ci(releases):
    assert releases["canned"]["perceived.empathy"]["mean"] < releases["no_op"]["perceived.empathy"]["ci_low"]


def test_an_off_topic_release_falls_below_the_ci_of_the_metric_that_gates_it(releases):
    """The default model's perceived.empathy judges a turn's sympathy, not its fit (README, "Gating off-topic
    bots"): its perceived.relevance must catch the release; `fast`, which has no relevance, on perceived.empathy."""
    metric = "perceived.relevance" if "perceived.relevance" in releases["no_op"] else "perceived.empathy"
    assert releases["off_topic"][metric]["mean"] < releases["no_op"][metric]["ci_low"]
