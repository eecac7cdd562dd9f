"""An empty or whitespace-only agent reply is never scored: the CLI, the API (records or Dialogue
objects) and the `evaluate` metric (tests/test_evaluate_module.py) skip it and count it."""
import json

import pytest

from empathy_metric.api import Scorer
from empathy_metric.dialogue import Dialogue, Turn

pytestmark = pytest.mark.scoring

RECORD = {"id": "d1", "messages": [{"role": "user", "content": "My mother died yesterday."},
                                    {"role": "assistant", "content": "   "},
                                    {"role": "user", "content": "Are you there?"},
                                    {"role": "assistant", "content": "I'm so sorry, that must be awful."}]}


def test_cli_skips_and_counts_an_empty_reply(score_cli, tmp_path):
    logs = tmp_path / "logs.jsonl"
    logs.write_text(json.dumps(RECORD) + "\n")
    result = score_cli("score", logs, "-o", tmp_path / "turns.jsonl", "-o", tmp_path / "summary.json")
    assert result.exit_code == 0, result.output
    turns = [json.loads(line) for line in (tmp_path / "turns.jsonl").read_text().splitlines()]
    assert [t["turn_index"] for t in turns] == [3]
    counts = json.loads((tmp_path / "summary.json").read_text())["counts"]
    assert counts["turns_skipped"] == {"empty_text": 1} and counts["turns_scored"] == 1


def test_api_skips_an_empty_reply_in_records_and_in_dialogue_objects(tiny_bundle):
    scorer = Scorer.from_pretrained(str(tiny_bundle))
    from_record = scorer.score([RECORD])
    turns = [Turn(role=m["role"], text=m["content"], index=i) for i, m in enumerate(RECORD["messages"])]
    from_dialogue = scorer.score([Dialogue(dialogue_id="d1", turns=turns, turns_read=len(turns))])
    for result in (from_record, from_dialogue):
        assert [u.turn_index for u in result.utterances] == [3]
        assert result.counts.turns_skipped == {"empty_text": 1}
    assert from_record.utterances[0].perceived == from_dialogue.utterances[0].perceived
