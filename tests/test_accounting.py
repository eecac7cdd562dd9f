"""Every turn read is accounted for: scored + context + skipped (by reason) = read, on messy input;
a mismatch is an error (the check runs on every scoring run)."""
import json

import pytest

from empathy_metric.errors import AccountingError
from empathy_metric.pipeline.accounting import Counts

pytestmark = pytest.mark.scoring

LONG = " ".join(["i am sorry to hear that it sounds really hard"] * 30)      # beyond the 96-token window
MESSY = [
    {"id": "plain", "messages": [{"role": "user", "content": "i feel sad"}, {"role": "assistant", "content": "i am sorry"},
                                 {"role": "user", "content": "thanks"}, {"role": "assistant", "content": "what happened ?"}]},
    {"id": "tools", "messages": [{"role": "system", "content": "be kind"}, {"role": "developer", "content": "x"},
                                 {"role": "user", "content": "help"}, {"role": "tool", "content": "{}"},
                                 {"role": "assistant", "content": "here is some information"}]},
    {"id": "empty", "messages": [{"role": "user", "content": ""}, {"role": "assistant", "content": "   "},
                                 {"role": "user", "content": "hi"}, {"role": "assistant", "content": None},
                                 {"role": "assistant", "content": "hello"}]},
    {"id": "parts", "messages": [
        {"role": "user", "content": [{"type": "image_url", "image_url": {"url": "x"}}, {"type": "text", "text": "look"}]},
        {"role": "assistant", "content": [{"type": "output_text", "text": "nice"}, {"type": "audio"}, 7]},
        {"role": "user", "content": [{"type": "image_url", "image_url": {"url": "y"}}]}]},
    {"id": "no-agent", "messages": [{"role": "user", "content": "anyone ?"}, {"role": "user", "content": "hello ?"}]},
    {"id": "nothing", "messages": []},
    {"id": "narrator", "messages": [{"role": "narrator", "content": "later"}, {"role": "gpt", "content": "ok"}]},
    {"id": "long", "messages": [{"role": "user", "content": LONG}, {"role": "assistant", "content": LONG},
                                {"role": "user", "content": "ok"}]},
]


def test_messy_input_adds_up(score_cli, tmp_path):
    lines = [json.dumps(r) for r in MESSY]
    lines.insert(3, '{"messages": [{"role": "assistant"}]}')                 # malformed: skipped
    lines.insert(5, "{not json")                                            # malformed: skipped
    lines.append(json.dumps(MESSY[0]))                                      # duplicate id: skipped
    log = tmp_path / "messy.jsonl"
    log.write_text("\n".join(lines) + "\n\n")
    turns, summary = tmp_path / "t.jsonl", tmp_path / "s.json"
    assert score_cli(log, "-o", turns).exit_code == 3                       # strict by default
    result = score_cli(log, "--on-error", "skip", "-o", turns, "-o", summary)
    assert result.exit_code == 0, result.output
    counts = json.loads(summary.read_text())["counts"]
    assert counts == {
        "records_read": 11,
        "records_skipped": {"malformed_record": 2, "duplicate_dialogue_id": 1},
        "dialogues_scored": 6,                        # no-agent and nothing have no agent turn
        "turns_read": 4 + 5 + 5 + 3 + 2 + 0 + 2 + 3,
        "turns_scored": 2 + 1 + 1 + 1 + 1 + 1,
        "turns_context": 2 + 1 + 1 + 1 + 1 + 2,
        "turns_skipped": {"non_dialogue_role": 3, "empty_text": 4, "dialogue_without_agent_turn": 2},
        "dialogues_skipped": {"no_agent_turn": 1, "no_turns": 1},          # records = 6 + 2 + 3
        "roles_not_scored": {"user": 9, "narrator": 1},
        "windows_truncated": 1,
        "non_text_parts_skipped": 4,
        "dialogues_resumed": 0, "turns_resumed": 0,
    }
    skipped = sum(counts["turns_skipped"].values())
    assert counts["turns_scored"] + counts["turns_context"] + skipped == counts["turns_read"]
    records = [json.loads(line) for line in turns.read_text().splitlines()]
    assert [(r["dialogue_id"], r["turn_index"]) for r in records] == [
        ("plain", 1), ("plain", 3), ("tools", 4), ("empty", 4), ("parts", 1), ("narrator", 1), ("long", 1)]
    assert [r["dialogue_id"] for r in records if r["truncated"]] == ["long"]
    # and says what was cut: the long reply fills the 96-token window, so it is cut and both the turn
    # before it and the one after it are left out
    assert {r["dialogue_id"]: r["truncated_parts"] for r in records}["long"] == [
        "turn", "context_before", "context_after"]
    assert all(r["truncated_parts"] == [] for r in records if not r["truncated"])


def test_summary_line_reports_the_counts(score_cli, tmp_path):
    log = tmp_path / "messy.jsonl"
    log.write_text("".join(json.dumps(r) + "\n" for r in MESSY))
    result = score_cli(log, "-o", tmp_path / "s.json", quiet=False)
    assert result.exit_code == 0
    assert result.stderr.splitlines() == [
        "6 dialogues, 7 agent turns scored, 8 context turns, 9 turns skipped (dialogue_without_agent_turn 2, "
        "empty_text 4, non_dialogue_role 3), 2 dialogues with nothing to score (no_agent_turn 1, no_turns 1), "
        "0 records skipped (model tiny-test)",
        "warning: 1 dialogue(s) have no agent turn, so nothing in them was scored; turns of roles not scored: "
        "narrator 1, user 9. --agent-role ROLE scores a role.",
        "warning: 1 record(s) hold no turns to score."]


def test_check_refuses_a_mismatch():
    counts = Counts(turns_read=5, turns_scored=2, turns_context=2)
    counts.add_skipped("empty_text", 1)
    counts.check()
    counts.add_skipped("empty_text", 1)
    with pytest.raises(AccountingError, match=r"read 5, but scored 2 \+ context 2 \+ skipped 2 = 6"):
        counts.check()


def test_every_scoring_run_checks_the_counts(tiny_bundle):
    """A dialogue whose turns_read does not match its turns (a reader bug) stops the run."""
    from empathy_metric import Scorer
    from empathy_metric.dialogue import Dialogue, Turn
    scorer = Scorer.from_pretrained(str(tiny_bundle))
    good = Dialogue("a", [Turn("user", "hi", 0), Turn("assistant", "hello", 1)], turns_read=2)
    assert scorer.score([good]).counts.turns_read == 2
    bad = Dialogue("b", [Turn("user", "hi", 0), Turn("assistant", "hello", 1)], turns_read=3)
    with pytest.raises(AccountingError, match="turn accounting mismatch: read 3"):
        scorer.score([bad])
